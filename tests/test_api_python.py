"""The Python API: seqgen.train, seqgen.load, Generator.sample/score, seqgen.write_music."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch

import seqgen
from seqgen.scoring import total_nll
from seqgen.music.score import Piece

TINY = {"hidden": 16, "embed": 8, "batch_size": 4, "seq_len": 16, "max_steps": 5, "max_time": 0, "seed": 3}


@pytest.fixture
def text_run(small_text: Path) -> seqgen.api.TrainResult:
    return seqgen.train(corpus=small_text, run_dir="runs/t", **TINY)


def test_import_is_cheap() -> None:
    code = "import sys, seqgen; seqgen.load; seqgen.SeqgenError; print('torch' in sys.modules, 'music21' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert {"train", "load", "Generator", "write_music", "SeqgenError"} <= set(dir(seqgen))
    assert seqgen.SeqgenError is seqgen.errors.SeqgenError
    with pytest.raises(AttributeError):
        seqgen.no_such_name  # noqa: B018


def test_train_returns_the_run_quietly(small_text: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = seqgen.train(corpus=small_text, run_dir="runs/a", **TINY)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert run.run_dir == Path("runs/a") and run.step == 5 and run.train_time > 0
    best = run.run_dir / "best.pt"
    assert best.is_file()
    assert run.best_val == torch.load(best, weights_only=True)["best_val"]
    gen = seqgen.load(run.run_dir)
    assert gen.config.model.hidden == 16 and gen.config.data.corpus == str(small_text)


def test_train_echo_and_resume(small_text: Path) -> None:
    lines: list[str] = []
    seqgen.train(corpus=small_text, run_dir="runs/e", echo=lines.append, **TINY)
    assert any("parameters" in line for line in lines)
    more = seqgen.train(resume="runs/e", max_steps=8)
    assert more.step == 8


def test_load_none_picks_the_newest(small_text: Path) -> None:
    with pytest.raises(seqgen.SeqgenError, match="no checkpoint"):
        seqgen.load()
    old = seqgen.train(corpus=small_text, run_dir="checkpoints/old", **TINY)
    new = seqgen.train(corpus=small_text, run_dir="checkpoints/new", **{**TINY, "hidden": 12})
    os.utime(old.run_dir / "best.pt", (1e9, 1e9))
    gen = seqgen.load(None)
    assert gen.path == new.run_dir / "best.pt" and gen.config.model.hidden == 12
    os.utime(new.run_dir / "best.pt", (1e8, 1e8))
    assert seqgen.load().path == old.run_dir / "best.pt"
    assert seqgen.load(old.run_dir / "best.pt").config.model.hidden == 16


def test_sample_text(text_run: seqgen.api.TrainResult) -> None:
    gen = seqgen.load(text_run.run_dir)
    assert gen.domain == "text" and gen.tokenizer.domain == "text" and not gen.model.training
    text = gen.sample(seed="ROMEO:", length=30, temperature=0.8, random_seed=1)
    assert isinstance(text, str) and text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 30
    assert gen.sample(seed="ROMEO:", length=30, temperature=0.8, random_seed=1) == text
    texts = gen.sample(seed="ROMEO:", length=20, num_samples=3, top_k=5, random_seed=2)
    assert isinstance(texts, list) and len(texts) == 3 and all(t.startswith("ROMEO:") for t in texts)
    greedy = gen.sample(seed="O", length=200, temperature=0, stop="\n")
    assert greedy.endswith("\n") or len(greedy) == 201
    threads = torch.get_num_threads()
    gen.sample(seed="O", length=5)
    assert torch.get_num_threads() == threads  # the process-wide thread count is the caller's


def test_score_is_total_nll_per_token(text_run: seqgen.api.TrainResult) -> None:
    gen = seqgen.load(text_run.run_dir)
    text = "ROMEO:\nO gentle night, number 3 is the one we keep.\n"
    ids = gen.tokenizer.encode(text)
    nll, count = total_nll(gen.model, np.asarray(ids, dtype=np.int64), streams=1)
    assert count == len(ids) - 1
    assert gen.score(text) == pytest.approx(nll / count)
    assert gen.score(ids) == pytest.approx(gen.score(text))
    assert gen.score(np.asarray(ids)) == pytest.approx(gen.score(text))
    assert gen.score(text) > 0 and math.isfinite(gen.score("zz qq zz"))  # unknown symbols score too


def test_bad_arguments_raise_seqgen_error(text_run: seqgen.api.TrainResult, small_text: Path) -> None:
    gen = seqgen.load(text_run.run_dir)
    bad_samples = [
        ({"seed": "R", "lenght": 5}, "unknown argument 'lenght'"),
        ({"seed": "R", "temperature": -1}, "temperature"),
        ({"seed": "R", "top_p": 0}, "top-p"),
        ({"seed": "R", "length": 0}, "length"),
        ({"seed": "R", "length": "ten"}, "bad sample"),
        ({"seed": "R", "num_samples": 0}, "number of samples"),
        ({"seed": "R", "keep": 2}, "keep must be"),
        ({"seed": "R", "settings": None}, "unknown argument 'settings'"),
    ]
    for options, message in bad_samples:
        with pytest.raises(seqgen.SeqgenError, match=message):
            gen.sample(**options)
    for data in ("R", [1], [0, 10**6], [0, -1], 3.5, None, b"ROMEO"):
        with pytest.raises(seqgen.SeqgenError):
            gen.score(data)
    with pytest.raises(seqgen.SeqgenError, match="not found"):
        seqgen.load("no/such/file.pt")
    with pytest.raises(seqgen.SeqgenError, match="unknown setting"):
        seqgen.train(corpus=small_text, hiden=16)
    with pytest.raises(seqgen.SeqgenError, match="hidden"):
        seqgen.train(corpus=small_text, **{**TINY, "hidden": 0})
    with pytest.raises(seqgen.SeqgenError, match="unknown preset"):
        seqgen.train(corpus=small_text, preset="no-such-preset")
    with pytest.raises(seqgen.SeqgenError, match="expects"):
        seqgen.train(corpus=small_text, **{**TINY, "hidden": "big"})


def test_music_sample_score_and_write(midi_folder: Path) -> None:
    run = seqgen.train(corpus=midi_folder, run_dir="runs/m", val_frac=0.2, test_frac=0.2, transpose=0,
                       **{**TINY, "seq_len": 32})
    gen = seqgen.load(run.run_dir)
    assert gen.domain == "music"
    piece = gen.sample(bars=2, random_seed=1)
    assert isinstance(piece, Piece)
    pieces = gen.sample(length=40, num_samples=2, random_seed=1, seed="C4 E4 G4")
    assert isinstance(pieces, list) and len(pieces) == 2 and all(isinstance(p, Piece) for p in pieces)
    written = seqgen.write_music(pieces[0], "x.mid")
    assert Path(written).is_file() and pretty_midi.PrettyMIDI("x.mid").instruments
    song = midi_folder / "song0.mid"
    assert math.isfinite(gen.score(song)) and gen.score(str(song)) == gen.score(song)
    primer = gen.tokenizer.read_primer(str(song))
    assert gen.score(primer) == pytest.approx(gen.score(gen.tokenizer.encode(primer)))
    continued = gen.sample(primer=song, bars=1, only_new=True, random_seed=1)
    assert isinstance(continued, Piece)
    with pytest.raises(seqgen.SeqgenError):
        gen.sample(seed="C4 H9")
    with pytest.raises(seqgen.SeqgenError):
        gen.score(12)


def test_cli_sample_matches_the_api(text_run: seqgen.api.TrainResult) -> None:
    from click.testing import CliRunner

    from seqgen.cli import main

    args = ["sample", "--checkpoint", str(text_run.run_dir), "--seed", "ROMEO:", "--length", "40",
            "--temperature", "0.7", "--random-seed", "4"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    expected = seqgen.load(text_run.run_dir).sample(seed="ROMEO:", length=40, temperature=0.7, random_seed=4)
    assert result.output == expected + "\n"
