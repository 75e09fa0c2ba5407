"""Novelty: the suffix-array search against brute force, text and music copies found with their
source, the on-disk index, and ``seqgen novelty`` on text and MIDI files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import seqgen
from seqgen.cli import main
from seqgen.corpus import load_corpus
from seqgen.music.novelty import MusicNovelty, melody
from seqgen.music.score import Note, Piece, Track
from seqgen.novelty import SuffixIndex, TextNovelty, passages
from seqgen.paths import cache_dir

TINY = {"hidden": 16, "embed": 8, "batch_size": 4, "seq_len": 16, "max_steps": 3, "max_time": 0, "seed": 3}


def brute_longest(data: np.ndarray, query: np.ndarray) -> int:
    """Longest prefix of ``query`` found anywhere in ``data``, by trying every length and place."""
    found = 0
    for k in range(1, len(query) + 1):
        if any(np.array_equal(data[p:p + k], query[:k]) for p in range(len(data) - k + 1)):
            found = k
    return found


def test_suffix_index_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    for _ in range(150):
        data = rng.integers(0, 3, rng.integers(1, 30))
        query = rng.integers(0, 3, rng.integers(1, 12))
        index = SuffixIndex(data)
        suffixes = [tuple(data[i:]) for i in index.order]
        assert suffixes == sorted(suffixes)
        lengths, where = index.matching(query)
        for i in range(len(query)):
            assert lengths[i] == brute_longest(data, query[i:])
            assert np.array_equal(data[where[i]:where[i] + lengths[i]], query[i:i + lengths[i]])


def test_passages_skip_the_tails_of_longer_copies() -> None:
    # A 5-long copy at 0 (its tails 4, 3, 2 follow), a 3-long one at 6 overlapping nothing.
    lengths = np.array([5, 4, 3, 2, 1, 0, 3, 2, 1])
    assert passages(lengths, 5) == [0, 6]
    assert passages(lengths, 1) == [0]


def test_text_copies_name_the_passage_and_its_line() -> None:
    train = "First line here.\nTo be, or not to be: that is the question.\nLast line.\n"
    index = TextNovelty(train)
    sample = "Zq! not to be: that is thZq"
    copies = index.copies(sample, top=2)
    assert copies[0].shown == " not to be: that is th" and copies[0].length == len(" not to be: that is th")
    assert copies[0].start == 3 and copies[0].source == "train line 2"
    assert index.longest(sample) == copies[0].length
    assert index.longest("QQQ") == 0 and index.copies("QQQ") == []
    cached = list((cache_dir() / "novelty").glob("text-*.npy"))
    assert len(cached) == 1  # the suffix array is kept for the next process
    np.testing.assert_array_equal(TextNovelty(train).index.order, index.index.order)


def _tune(pitches: list[int], name: str = "Soprano", chord: int | None = None) -> Track:
    notes = [Note(p, float(i), 1.0) for i, p in enumerate(pitches)]
    if chord is not None:
        notes.append(Note(chord, 0.0, 1.0))  # under the first note: not part of the melody
    return Track(name, 0, False, notes)


def test_music_copies_are_transposition_invariant_and_stay_in_one_track() -> None:
    chorale = Piece([_tune([67, 69, 71, 72, 74, 72, 71], "Soprano"), _tune([48, 50, 52], "Bass")], title="BWV 1")
    index = MusicNovelty([chorale])
    # The soprano's first six notes a tone higher, after two notes the corpus never moves by.
    sample = Piece([_tune([30, 90, 69, 71, 73, 74, 76, 74], "Alto", chord=20)])
    assert melody(sample.tracks[0])[0] == 30  # the chord's lower note is not in the line
    [copy] = index.copies(sample, top=1)
    assert (copy.length, copy.track, copy.start) == (6, "Alto", 2)
    assert copy.source == "BWV 1, Soprano, from note 1" and copy.shown == "A4 B4 C#5 D5 E5 D5"
    assert index.longest(sample) == 6
    # The soprano's last interval then the bass's first: never adjacent in one track, so no copy.
    across = Piece([_tune([72, 71, 73])])
    assert index.longest(across) == 2  # only one interval of it is in the corpus
    assert index.longest(Piece([_tune([60])])) == 0


def test_novelty_command_reports_text_and_music_copies(small_text: Path, midi_folder: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run = seqgen.train(corpus=small_text, run_dir="runs/t", val_frac=0.1, test_frac=0.0, **TINY)
    essay = tmp_path / "essay.txt"
    essay.write_text("Nothing new: O gentle night, number 3 is the one we keep.\nzzz", encoding="utf-8")
    result = CliRunner().invoke(main, ["novelty", str(essay), "--checkpoint", str(run.run_dir), "--top", "2"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    # In training the line follows a newline, not ": ", so the copy starts at its "O".
    assert first.split()[:2] == [str(len("O gentle night, number 3 is the one we keep.\n")), "chars"]
    assert "at char 14" in first and "from train line" in first
    music = seqgen.train(corpus=midi_folder, run_dir="runs/m", val_frac=0.2, test_frac=0.2, transpose=0,
                         **{**TINY, "seq_len": 32})
    train = load_corpus(str(midi_folder)).splits(0.2, 0.2)["train"]  # pieces are dealt by a seeded shuffle
    song = midi_folder / train[0].title  # a training piece: its whole melody is a copy
    result = CliRunner().invoke(main, ["novelty", str(song), "--checkpoint", str(music.run_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.split()[:2] == ["32", "notes"] and "Flute" in result.output
    missing = CliRunner().invoke(main, ["novelty", "nope.txt", "--checkpoint", str(run.run_dir)])
    assert missing.exit_code == 1 and missing.output.startswith("Error: nope.txt does not exist")
    # Without its corpus a run still samples; its summary says the novelty is unknown, and why.
    midi_folder.rename(tmp_path / "moved")
    monkeypatch.setattr(seqgen.novelty, "_INDEXES", {})
    result = CliRunner().invoke(main, ["sample", "--checkpoint", str(music.run_dir), "--length", "20", "--out", "x.mid"])
    assert result.exit_code == 0, result.output
    assert "; copied from training: unknown (no corpus named" in result.output
