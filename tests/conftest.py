"""Shared fixtures: every test runs in its own working directory with its own caches."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pretty_midi
import pytest

from benchmarks.common import SHARED_CORPORA


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cwd, checkpoints/ and the token cache live in tmp_path; raw corpora come from ../shared."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SEQGEN_CORPORA", str(SHARED_CORPORA if SHARED_CORPORA.is_dir() else tmp_path / "corpora"))
    return tmp_path


@pytest.fixture
def small_text(tmp_path: Path) -> Path:
    """A ~30 KB play-like corpus: enough for a few batches, small enough to train in seconds."""
    speakers = ["ROMEO", "JULIET", "NURSE", "MERCUTIO"]
    lines = []
    for i in range(400):
        lines.append(f"{speakers[i % 4]}:\nO gentle night, number {i % 17} is the one we keep.\n")
    path = tmp_path / "play.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def midi_folder(tmp_path: Path) -> Path:
    """Ten two-track pieces (melody and bass) plus one broken file."""
    folder = tmp_path / "songs"
    folder.mkdir()
    rng = random.Random(0)
    for i in range(10):
        pm = pretty_midi.PrettyMIDI(initial_tempo=100)
        melody, bass = pretty_midi.Instrument(73, name="Flute"), pretty_midi.Instrument(32, name="Bass")
        for beat in range(32):
            t = beat * 0.6
            melody.notes.append(pretty_midi.Note(90, rng.choice([60, 62, 64, 65, 67, 69]), t, t + 0.55))
            if beat % 2 == 0:
                bass.notes.append(pretty_midi.Note(70, rng.choice([36, 41, 43]), t, t + 1.1))
        pm.instruments += [melody, bass]
        pm.write(str(folder / f"song{i}.mid"))
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    return folder


os.environ.setdefault("TQDM_DISABLE", "1")
