"""Corpus adapters: a named corpus or a path becomes documents in a stable order, split by time.

A corpus knows nothing of tokens. It yields its train/val/test documents (``str`` for text, a
score or ``pretty_midi.PrettyMIDI`` for music) and a fingerprint that changes whenever its source
does, which keys the token-array cache.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from seqgen.errors import SeqgenError

SPLITS = ("train", "val", "test")

#: Documents per split, e.g. ``{"train": [...], "val": [...], "test": [...]}``: lists of pieces for
#: music, re-readable streams of text chunks for text (see ``TextSpan``). Each may be iterated again.
Splits = dict[str, Iterable[Any]]


class Corpus(ABC):
    """A source of documents. Subclasses: text corpora (``seqgen.text_corpus``), music corpora
    (``seqgen.music.corpus``)."""

    #: Short name used for run directories and the token cache.
    name: str
    #: "text" or "music": decides the default tokenizer and which writers apply.
    domain: str

    @abstractmethod
    def fingerprint(self) -> str:
        """A string that changes whenever the source changes (content hash, or size+mtime)."""

    @abstractmethod
    def splits(self, val_frac: float, test_frac: float) -> Splits:
        """Documents per split, contiguous in the corpus's natural order (never shuffled)."""

    def augment(self, train_docs: list[Any], transpose: int) -> list[Any]:
        """Extra training documents made from the train split (music: other keys). Text has none."""
        return train_docs

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Facts for ``seqgen corpus info`` (documents, characters or notes, source, ...)."""


#: Named corpora: name -> (one-line description, factory). Adapters register themselves here.
NAMED: dict[str, tuple[str, Callable[[], Corpus]]] = {}


def register_corpus(name: str, description: str) -> Callable[[Callable[[], Corpus]], Callable[[], Corpus]]:
    """Decorator for a zero-argument factory that builds the named corpus."""

    def wrap(factory: Callable[[], Corpus]) -> Callable[[], Corpus]:
        NAMED[name] = (description, factory)
        return factory

    return wrap


def _load_adapters() -> None:
    """Import the adapter modules so that their named corpora are registered."""
    import seqgen.music.corpus  # noqa: F401
    import seqgen.text_corpus  # noqa: F401


def list_corpora() -> dict[str, str]:
    """Named corpora and their one-line descriptions."""
    _load_adapters()
    return {name: description for name, (description, _) in sorted(NAMED.items())}


def load_corpus(spec: str, encoding: str = "utf-8") -> Corpus:
    """Resolve a corpus name (``shakespeare``, ``bach``, ...) or a file/folder path."""
    _load_adapters()
    if spec in NAMED:
        return NAMED[spec][1]()
    path = Path(os.path.expanduser(spec))
    if not path.exists():
        known = ", ".join(sorted(NAMED))
        raise SeqgenError(f"no corpus named {spec!r} and no such file or folder; named corpora: {known}")
    from seqgen.music.corpus import music_corpus_from_path
    from seqgen.text_corpus import text_corpus_from_path

    return music_corpus_from_path(path) or text_corpus_from_path(path, encoding)


def corpora_dir() -> Path:
    """Where raw corpora are looked up and downloaded: ``$SEQGEN_CORPORA`` or ``./corpora``."""
    return Path(os.environ.get("SEQGEN_CORPORA", "corpora")).expanduser()


def cache_dir() -> Path:
    """Where derived token arrays go: ``$SEQGEN_CACHE`` or ``./corpora/cache``.

    Kept apart from ``corpora_dir`` because the raw corpora may sit on a read-only share.
    """
    return Path(os.environ.get("SEQGEN_CACHE", Path("corpora") / "cache")).expanduser()
