"""Shared pieces: the table row, run options, environment set-up and the tiny-shakespeare data.

Kept free of benchmark logic so each row module reads as "set up, time, report".
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch and seqgen are imported lazily: the parent process only formats a table
    from seqgen.config import DataConfig
    from seqgen.dataset import TokenData

#: The team's shared folder, ``../shared`` beside the repository root (read-only data such as
#: tiny-shakespeare); the one place benchmarks and tests learn where it is.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
#: Raw corpora there, used when SEQGEN_CORPORA is unset.
SHARED_CORPORA = SHARED / "corpora"
TINY_SHAKESPEARE = SHARED_CORPORA / "tinyshakespeare" / "input.txt"


@dataclass
class Row:
    """One line of the results table; every cell is preformatted text."""

    benchmark: str
    setting: str
    value: str
    reference: str = ""
    ratio: str = ""


@dataclass
class Options:
    """What the command line chose; passed to every row function."""

    quick: bool = False  # shrink every budget (smoke test, ~1 minute in all)
    budget: float = 71.0  # seconds of training for the val-loss row
    device: str = "cpu"  # for training rows; sampling always runs on the CPU (seqgen's choice)
    threads: int = 0  # torch intra-op threads; 0 = torch's default (one per core)
    text_mb: int = 1024  # size of the generated text file the corpus group streams


class Skip(Exception):
    """A row cannot run here (missing corpus, ...); the message becomes its value."""


def setup_env() -> Path | None:
    """Point seqgen at the shared corpora and a throw-away cache, so nothing lands in the repo.

    Returns the temporary cache folder this call created (the caller removes it), or None.
    Children inherit the environment, so every row sees the same cache.
    """
    os.environ.setdefault("TQDM_DISABLE", "1")  # the trainer's progress bar would garble the table
    if "SEQGEN_CORPORA" not in os.environ and TINY_SHAKESPEARE.is_file():
        os.environ["SEQGEN_CORPORA"] = str(SHARED_CORPORA)
    if "SEQGEN_CACHE" in os.environ:
        return None
    created = Path(tempfile.mkdtemp(prefix="seqgen-bench-cache-"))
    os.environ["SEQGEN_CACHE"] = str(created)
    return created


def nanogpt_split(corpus: str = "tinyshakespeare") -> DataConfig:
    """nanoGPT's shakespeare_char split: first 90% train, last 10% val, no test."""
    from seqgen.config import DataConfig

    return DataConfig(corpus=corpus, val_frac=0.1, test_frac=0.0)


def token_data(split: DataConfig | None = None) -> TokenData:
    """Token arrays of ``split.corpus`` (tiny-shakespeare with nanoGPT's split unless given);
    ``Skip`` if that is tiny-shakespeare and it is absent (the other corpora ship with packages)."""
    from seqgen.corpus import load_corpus
    from seqgen.paths import corpora_dir
    from seqgen.dataset import prepare

    split = split or nanogpt_split()
    path = corpora_dir() / "tinyshakespeare" / "input.txt"
    if split.corpus == "tinyshakespeare" and not path.is_file():  # benchmarks must not download
        raise Skip(f"skipped: {path} not found (set SEQGEN_CORPORA)")
    return prepare(load_corpus(split.corpus), split)


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a ``python -m benchmarks...`` child, wherever it is started."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes on the wall clock."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rate(tokens_per_s: float) -> str:
    return f"{tokens_per_s:,.0f} tok/s"
