"""Faults during training and writing never lose work; hostile input never crashes the corpus build."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pretty_midi
import pytest
import torch
from click.testing import CliRunner

from seqgen.checkpoint import load_checkpoint
from seqgen.cli import main
from seqgen.corpus import load_corpus

TINY = ["--hidden", "16", "--embed", "8", "--batch-size", "4", "--seq-len", "16", "--max-time", "0"]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(small_text: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["train", "--corpus", str(small_text), "--run-dir", "r", *TINY, "--max-steps", "4",
                              "--eval-every", "4"])
    assert ok.exit_code == 0, ok.output
    before = Path("r/last.pt").read_bytes()
    # Resuming with an absurd learning rate and no clipping drives the loss to NaN/inf.
    bad = runner.invoke(main, ["train", "--resume", "r", "--max-steps", "60", "--lr", "1e30", "--grad-clip", "0",
                               "--eval-every", "1000"])
    assert bad.exit_code == 1
    assert "loss became" in bad.output and "at step" in bad.output and "r/last.pt" in bad.output
    assert Path("r/last.pt").read_bytes() == before


WRITER = """
import sys, torch
from pathlib import Path
from seqgen.checkpoint import save_checkpoint
path = Path(sys.argv[1])
for i in range(10_000):
    save_checkpoint(path, {"model": {"w": torch.full((300_000,), float(i))}, "step": i})
    print(i, flush=True)
"""


def test_kill_9_while_writing_leaves_a_valid_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    for _ in range(3):  # let a few complete writes land, then kill at an arbitrary moment
        proc.stdout.readline()
    time.sleep(random.uniform(0.0, 0.05))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    payload = load_checkpoint(path)
    assert torch.all(payload["model"]["w"] == payload["step"])  # a whole file, never a torn one


def _midi(path: Path, seed: int) -> None:
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0, name="Piano")
    rng = random.Random(seed)
    for i in range(40):
        start = i * 0.25
        piano.notes.append(pretty_midi.Note(80, rng.randint(48, 72), start, start + 0.25))
    pm.instruments.append(piano)
    pm.write(str(path))


def test_byte_flipped_midi_files_never_crash_the_corpus_build(tmp_path: Path) -> None:
    folder = tmp_path / "fuzz"
    folder.mkdir()
    _midi(folder / "good.mid", 0)
    original = (folder / "good.mid").read_bytes()
    rng = random.Random(1234)
    for i in range(40):
        data = bytearray(original)
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if i % 5 == 0:
            data = data[: rng.randrange(len(data))]  # truncated too
        (folder / f"flip{i:02d}.mid").write_bytes(bytes(data))
    corpus = load_corpus(str(folder))
    pieces = corpus.pieces()
    assert 1 <= len(pieces) <= 41  # the good file at least; every bad one skipped or read
    assert len(pieces) + len(corpus.skipped) == 41


@pytest.mark.parametrize("content", [b"", b"MThd", b"not midi at all", bytes(range(256)) * 4])
def test_broken_primer_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    from seqgen.music.grid import GridTokenizer
    from seqgen.music.score import Note, Piece, Track
    from seqgen.errors import SeqgenError

    codec = GridTokenizer.fit([Piece([Track("Piano", 0, False, [Note(60, 0, 1)])])])
    (tmp_path / "p.mid").write_bytes(content)
    with pytest.raises(SeqgenError, match="primer file"):
        codec.encode_primer(tmp_path / "p.mid")
