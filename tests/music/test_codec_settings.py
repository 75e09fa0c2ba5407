"""Codec settings: ``--grid-steps``, ``--max-duration`` and ``--max-shift`` reach the codec, are
saved with it, are checked when a checkpoint is loaded, and key the token cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from seqgen.cli import main
from seqgen.config import DataConfig, resolve_config
from seqgen.dataset import prepare
from seqgen.errors import SeqgenError
from seqgen.music.codecs import roundtrip_f1
from seqgen.music.corpus import music_corpus_from_path
from seqgen.music.grid import GridTokenizer
from seqgen.music.performance import PerformanceTokenizer
from seqgen.music.score import Note, Piece, Track
from seqgen.music.writers import write_music
from seqgen.tokenizer import tokenizer_from_state


def phrase(step: float, count: int) -> Piece:
    """``count`` notes of ``step`` quarters each, then a half note: a run of 32nd notes or of
    quintuplet sixteenths."""
    notes = [Note(60 + i % 7, i * step, step) for i in range(count)]
    notes.append(Note(72, count * step, 2.0))
    return Piece([Track("Flute", 73, False, notes)], time_signature=(4, 4))


THIRTY_SECONDS = phrase(0.125, 16)  # two beats of 32nd notes
QUINTUPLETS = phrase(0.2, 10)  # two beats of sixteenth-note quintuplets


def f1(piece: Piece, steps: int) -> float:
    return roundtrip_f1([piece], GridTokenizer.fit([piece], steps_per_quarter=steps))["f1"]


def test_32nd_notes_need_24_steps_and_quintuplets_60() -> None:
    assert f1(THIRTY_SECONDS, 12) < 0.6  # 12 steps: a 32nd note is 1.5 steps
    assert f1(THIRTY_SECONDS, 24) == 1.0
    assert f1(QUINTUPLETS, 24) < 0.6  # 24 steps: a quintuplet sixteenth is 4.8 steps
    assert f1(QUINTUPLETS, 60) == 1.0
    assert f1(QUINTUPLETS, 120) == 1.0 and f1(THIRTY_SECONDS, 120) == 1.0


def test_max_duration_and_max_shift_size_the_vocabulary() -> None:
    piece = Piece([Track("Flute", 73, False, [Note(60, 0.0, 8.0), Note(62, 20.0, 1.0)])], tempo_qpm=60)
    short = GridTokenizer.fit([piece], max_duration=4)
    assert short.vocab()[-1] == "Dur_48" and short.decode(short.encode(piece)).tracks[0].notes[0].duration == 4.0
    assert GridTokenizer.fit([piece], steps_per_quarter=24, max_duration=8).vocab()[-1] == "Dur_192"
    long = PerformanceTokenizer.fit([piece], max_shift=4.0)
    assert "Shift_4000ms" in long.vocab() and "Shift_1010ms" in long.vocab()
    assert "Shift_1010ms" not in PerformanceTokenizer.fit([piece]).vocab()
    # 8 s of a note, 12 s of silence, a 1 s note: five 4 s shifts and a 1 s one instead of 21 of 1 s
    assert [n for n in long.to_names(long.encode(piece)) if n.startswith("Shift")] == ["Shift_4000ms"] * 5 + ["Shift_1000ms"]


def midi_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "runs32"
    folder.mkdir()
    for i in range(5):
        piece = phrase(0.125, 16 + 2 * i)
        piece.title = f"p{i}"
        write_music(piece, folder / f"p{i}.mid")
    return folder


def test_settings_key_the_token_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = music_corpus_from_path(midi_corpus(tmp_path))
    assert corpus is not None
    fine = prepare(corpus, DataConfig(grid_steps=24, transpose=0))
    coarse = prepare(corpus, DataConfig(grid_steps=12, transpose=0))
    assert fine.tokenizer.steps == 24 and coarse.tokenizer.steps == 12  # type: ignore[attr-defined]
    folders = {p.name for p in (Path("cache") / "runs32").iterdir()}
    assert len(folders) == 2
    prepare(corpus, DataConfig(grid_steps=24, transpose=0))  # same settings: the same cache
    prepare(corpus, DataConfig(grid_steps=24, transpose=0, max_shift=3.0))  # not a grid setting: same cache
    assert {p.name for p in (Path("cache") / "runs32").iterdir()} == folders
    prepare(corpus, DataConfig(grid_steps=24, transpose=0, max_duration=4.0))
    monkeypatch.setattr(GridTokenizer, "version", GridTokenizer.version + 1)  # the codec's code changed
    prepare(corpus, DataConfig(grid_steps=24, transpose=0))
    assert len({p.name for p in (Path("cache") / "runs32").iterdir()}) == 4
    prepare(corpus, DataConfig(tokenizer="performance", transpose=0))
    prepare(corpus, DataConfig(tokenizer="performance", transpose=0, max_shift=3.0))
    assert len({p.name for p in (Path("cache") / "runs32").iterdir()}) == 6


def test_train_flag_reaches_the_checkpoint(tmp_path: Path) -> None:
    folder = midi_corpus(tmp_path)
    args = ["train", "--corpus", str(folder), "--run-dir", "runs/g", "--grid-steps", "24", "--max-duration", "4",
            "--hidden", "16", "--embed", "8", "--batch-size", "2", "--seq-len", "16", "--max-time", "0",
            "--max-steps", "2", "--eval-every", "2", "--val-frac", "0.2", "--test-frac", "0.2", "--transpose", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    ckpt = torch.load("runs/g/best.pt", weights_only=True)
    assert ckpt["config"]["data"]["grid_steps"] == 24
    state = ckpt["tokenizer"]
    assert state["steps_per_quarter"] == 24 and state["max_duration_steps"] == 96
    assert tokenizer_from_state(state).decode([]).n_notes == 0
    with pytest.raises(SeqgenError, match="steps_per_quarter is 240"):
        tokenizer_from_state({**state, "steps_per_quarter": 240})


@pytest.mark.parametrize("flags, message", [
    ({"grid_steps": 10}, "grid steps must be 0 .the corpus.s own. or a multiple of 4"),
    ({"grid_steps": 124}, "grid steps must be 0 .the corpus.s own. or a multiple of 4"),
    ({"max_duration": 0}, "max duration"),
    ({"max_shift": 11}, "max shift"),
])
def test_bad_settings_are_refused(flags: dict[str, float], message: str) -> None:
    with pytest.raises(SeqgenError, match=message):
        resolve_config(flags=flags).validate()


def test_a_grid_of_0_is_the_corpus_own() -> None:
    """folk's ornaments need 32nd notes, so its grid is 24 steps unless one is given; others 12."""
    from seqgen.corpus import load_corpus
    from seqgen.dataset import fit_options
    from seqgen.music.grid import GridTokenizer

    folk, bach = load_corpus("folk"), load_corpus("bach")  # no parse: the files are found lazily
    assert fit_options("grid", DataConfig(), folk) == {"steps_per_quarter": 24, "max_duration": 16.0}
    assert fit_options("grid", DataConfig(grid_steps=12), folk)["steps_per_quarter"] == 12
    assert fit_options("grid", DataConfig(), bach)["steps_per_quarter"] == 0
    assert GridTokenizer.fit([], steps_per_quarter=0).steps == 12
