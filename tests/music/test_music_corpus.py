"""Music corpora: folders of files, broken files skipped and reported, split layouts, the cache."""

from __future__ import annotations

import logging
from collections import Counter
import os
from pathlib import Path

import mido
import pytest

from seqgen.corpus import NAMED, load_corpus
from seqgen.errors import SeqgenError
from seqgen.music import corpus as music_corpus
from seqgen.music.corpus import music_corpus_from_path
from seqgen.music.splits import collection_of, split_by_collection, split_in_order
from seqgen.music.score import Note, Piece, Track
from seqgen.music.writers import write_music


def tune(pitch: int, bars: int = 2) -> Piece:
    notes = [Note(pitch + (i % 3), float(i), 1.0, 80) for i in range(4 * bars)]
    return Piece([Track("Melody", 73, False, notes)], tempo_qpm=100, title=f"tune {pitch}")


def write_tunes(folder: Path, count: int, first: int = 60) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write_music(tune(first + i), folder / f"tune{i:02d}.mid") for i in range(count)]


def absurd_tempo_file(path: Path) -> None:
    midi = mido.MidiFile(type=1)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=1), mido.Message("note_on", note=60, velocity=80),
                            mido.Message("note_off", note=60, time=480)])
    midi.tracks.append(track)
    midi.save(path)


def test_folder_of_midi_files(tmp_path: Path) -> None:
    write_tunes(tmp_path / "tunes" / "b", 3, 70)
    write_tunes(tmp_path / "tunes" / "a", 3, 60)
    corpus = load_corpus(str(tmp_path / "tunes"))
    assert corpus.domain == "music" and corpus.name == "tunes"
    pieces = corpus.pieces()
    assert [p.title for p in pieces] == [f"{d}/tune{i:02d}.mid" for d in "ab" for i in range(3)]  # sorted paths
    assert pieces[0].tracks[0].notes[0].pitch == 60 and pieces[0].tempo_qpm == 100
    info = corpus.describe()
    assert info["pieces"] == 6 and info["notes"] == 48 and info["quarters"] == 48 and info["seconds"] == 28.8
    assert "train 4, val 1, test 1" in info["splits"]


def test_broken_files_are_skipped_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "mixed"
    good = write_tunes(folder, 2)
    data = good[0].read_bytes()
    (folder / "truncated.mid").write_bytes(data[: len(data) // 2])
    (folder / "empty.mid").write_bytes(b"")
    (folder / "text.mid").write_text("this is not a MIDI file\n")
    write_music(Piece([Track("Silent", 0, False, [])]), folder / "nonotes.mid")
    absurd_tempo_file(folder / "fast.mid")
    (folder / "broken.musicxml").write_text("<score-partwise><part id='P1'><measure>")
    (folder / "readme.txt").write_text("not music, not counted")
    with caplog.at_level(logging.WARNING, logger="seqgen.music.corpus"):
        corpus = music_corpus_from_path(folder)
        assert corpus is not None
        assert len(corpus.pieces()) == 2
    lines = [r.getMessage() for r in caplog.records]
    for name in ("truncated.mid", "empty.mid", "text.mid", "nonotes.mid", "fast.mid", "broken.musicxml"):
        assert sum(name in line for line in lines) == 1, name
        assert all("\n" not in line for line in lines)
    assert any("6 unreadable" in line and "2 pieces read" in line for line in lines)
    assert any("empty file" in line for line in lines) and any("no notes" in line for line in lines)
    assert any("absurd tempo" in line for line in lines)
    assert corpus.describe()["skipped files"] == 6


def test_folder_without_readable_music_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.mid").write_bytes(b"MThd garbage")
    (folder / "b.mid").write_bytes(b"")
    corpus = music_corpus_from_path(folder)
    assert corpus is not None
    with pytest.raises(SeqgenError, match=f"no readable music in {folder}"):
        corpus.pieces()


def test_text_folders_are_left_to_the_text_adapter(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.txt").write_text("hello")
    (tmp_path / "t" / "config.xml").write_text("<config/>")  # plain XML is not MusicXML
    assert music_corpus_from_path(tmp_path / "t") is None
    assert music_corpus_from_path(tmp_path / "t" / "a.txt") is None
    write_tunes(tmp_path / "one", 1)
    single = music_corpus_from_path(tmp_path / "one" / "tune00.mid")
    assert single is not None and len(single.splits(0.1, 0.1)["train"]) == 1


def test_split_folders_are_used_as_given(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    write_tunes(root / "train", 3, 60)
    write_tunes(root / "valid", 2, 70)
    write_tunes(root / "test", 1, 80)
    write_tunes(root / "extra", 1, 90)  # beside the split folders: in no split
    corpus = music_corpus_from_path(root)
    assert corpus is not None
    for fracs in ((0.05, 0.05), (0.5, 0.3)):
        splits = corpus.splits(*fracs)
        assert [len(splits[s]) for s in ("train", "val", "test")] == [3, 2, 1]
        assert {p.tracks[0].notes[0].pitch for p in splits["val"]} == {70, 71}
    assert "as given by folders" in corpus.describe()["splits"]


def test_split_in_order() -> None:
    items = list(range(100))
    s = split_in_order(items, 0.05, 0.1)
    assert s["train"] == items[:85] and s["val"] == items[85:90] and s["test"] == items[90:]
    assert split_in_order([1, 2, 3], 0.01, 0.01) == {"train": [1], "val": [2], "test": [3]}
    assert split_in_order([1, 2], 0.1, 0.1) == {"train": [1, 2], "val": [], "test": []}
    assert split_in_order([1, 2, 3, 4], 0.0, 0.3) == {"train": [1, 2, 3], "val": [], "test": [4]}
    assert split_in_order([1], 0.5, 0.5)["train"] == [1]


def test_second_load_comes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = write_tunes(tmp_path / "c", 5)
    first = music_corpus_from_path(tmp_path / "c")
    assert first is not None and len(first.pieces()) == 5
    cache = first.cache_path
    assert cache.is_file() and cache.parent == Path(os.environ["SEQGEN_CACHE"]) / "music" / "c"

    def no_parsing(*args: object) -> None:
        raise AssertionError("parsed again despite the cache")

    monkeypatch.setattr(music_corpus, "parse_sources", no_parsing)
    again = music_corpus_from_path(tmp_path / "c")
    assert again is not None and again.fingerprint() == first.fingerprint()
    assert [p.to_dict() for p in again.pieces()] == [p.to_dict() for p in first.pieces()]

    write_music(tune(40, bars=3), files[0])  # a changed file changes the fingerprint
    changed = music_corpus_from_path(tmp_path / "c")
    assert changed is not None and changed.fingerprint() != first.fingerprint()


def test_named_music_corpora_are_registered() -> None:
    assert {"bach", "folk"} <= set(NAMED)
    bach = NAMED["bach"][1]()
    assert bach.domain == "music" and bach.fingerprint().startswith("music21-")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SEQGEN_SLOW") != "1",
                    reason="parses ~3,000 ABC tunes (1-3 min); SEQGEN_SLOW=1 runs it")
def test_folk_corpus_parses_with_keys_and_meters() -> None:
    from seqgen.music.codecs import roundtrip_f1
    from seqgen.tokenizer import fit_tokenizer

    corpus = NAMED["folk"][1]()
    pieces = corpus.pieces()
    assert len(pieces) >= 3000 and all(len(p.tracks) == 1 for p in pieces)
    assert sum(p.key is not None for p in pieces) > 0.95 * len(pieces)
    assert {(6, 8), (2, 4), (3, 4)} <= {p.time_signature for p in pieces}
    result = roundtrip_f1(pieces, fit_tokenizer("grid", pieces))  # type: ignore[arg-type]
    print(f"\nfolk: {len(pieces)} tunes, grid round-trip F1 {result['f1']:.4f} (32nd notes are off the 12-step grid)")
    assert result["f1"] >= 0.98  # measured 0.98753: 8,748 of 701,410 notes start or end off the grid
    fine = roundtrip_f1(pieces, fit_tokenizer("grid", pieces, steps_per_quarter=24))  # type: ignore[arg-type]
    assert fine["f1"] >= 0.999  # measured 0.99971: 204 notes are off a 24-step grid (odd tuplets)
    splits = corpus.splits(0.05, 0.05)
    book = {id(piece): collection_of(label) for label, _, piece in corpus._load()}
    for split in ("val", "test"):  # both books, in proportion (O'Neill's 2,000 tunes, Ryan's 1,060)
        books = Counter(book[id(p)] for p in splits[split])
        assert set(books) == {"oneills1850", "ryansMammoth"} and books["oneills1850"] > books["ryansMammoth"]


def test_split_by_collection_is_seeded_stratified_and_stable() -> None:
    labels = [f"a/f{i // 10}.abc#{i}" for i in range(40)] + [f"b/g{i}.mid" for i in range(60)] + ["root.mid"]
    splits = split_by_collection(labels, labels, 0.1, 0.1)
    assert sorted(sum(splits.values(), [])) == sorted(labels)  # every piece in exactly one split
    for split in ("val", "test"):
        assert [collection_of(x) for x in splits[split]].count("a") == 4
        assert [collection_of(x) for x in splits[split]].count("b") == 6
    assert splits["val"] != labels[36:40] + labels[94:100]  # not the tail of each collection
    assert split_by_collection(labels, labels, 0.1, 0.1) == splits  # fixed seed: the same every time
    grown = split_by_collection(labels + ["b/new.mid"], labels + ["b/new.mid"], 0.1, 0.1)
    moved = [x for s in ("train", "val", "test") for x in splits[s] if x not in grown[s]]
    assert len(moved) <= 1  # adding a piece moves at most one piece across a boundary
    assert all(s == sorted(s, key=labels.index) for s in splits.values())  # corpus order kept


def test_folder_collections_each_reach_val_and_test(tmp_path: Path) -> None:
    write_tunes(tmp_path / "two" / "jigs", 10, 50)
    write_tunes(tmp_path / "two" / "reels", 10, 70)
    corpus = music_corpus_from_path(tmp_path / "two")
    assert corpus is not None
    splits = corpus.splits(0.1, 0.1)
    for split in ("val", "test"):
        assert sorted(p.title.split("/")[0] for p in splits[split]) == ["jigs", "reels"]
    assert "of each of 2 collection(s)" in corpus.describe()["splits"]
    assert corpus.fingerprint().endswith("-split1")  # token arrays built on the old split rebuild


def test_token_data_counts_the_keys_each_train_piece_is_played_in(midi_folder: Path, small_text: Path) -> None:
    from seqgen.config import DataConfig
    from seqgen.dataset import prepare

    music = load_corpus(str(midi_folder))
    keys, plain = prepare(music, DataConfig(transpose=6)), prepare(music, DataConfig(transpose=0))
    assert (keys.copies, plain.copies) == (12, 1)
    assert len(keys.arrays["train"]) > 10 * len(plain.arrays["train"])
    assert prepare(load_corpus(str(small_text)), DataConfig(transpose=6)).copies == 1
