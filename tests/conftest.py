"""Shared fixtures: every test runs in its own working directory with its own caches."""

from __future__ import annotations

import os
from pathlib import Path

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


os.environ.setdefault("TQDM_DISABLE", "1")
