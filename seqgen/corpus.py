"""The corpus interface and registry: a named corpus or a path becomes documents, split.

Adapters (:mod:`seqgen.text`, :mod:`seqgen.music`) implement ``Corpus`` and register their named
corpora and path readers here; this module imports none of them directly (they are loaded by module
name on first use), so data flows one way and text-only runs never import music21. A corpus knows
nothing of tokens. It yields its train/val/test documents (``str`` for text, a
score or ``pretty_midi.PrettyMIDI`` for music) and a fingerprint that changes whenever its source
does, which keys the token-array cache.
"""

from __future__ import annotations

import importlib
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
    """A source of documents. Subclasses: ``seqgen.text.corpus.TextCorpus``,
    ``seqgen.music.corpus.MusicCorpus``."""

    #: Short name used for run directories and the token cache.
    name: str
    #: "text" or "music": decides the default tokenizer and which writers apply.
    domain: str
    #: Music: grid steps per quarter note its rhythms need (``--grid-steps 0``); 0: the codec's own.
    grid_steps: int = 0

    @abstractmethod
    def fingerprint(self) -> str:
        """A string that changes whenever the source changes (content hash, or size+mtime)."""

    @abstractmethod
    def splits(self, val_frac: float, test_frac: float) -> Splits:
        """Documents per split: text in contiguous slices of its natural order; music as whole
        pieces dealt by a seeded shuffle within each collection."""

    def augment(self, train_docs: list[Any], transpose: int) -> list[Any]:
        """Extra training documents made from the train split (music: other keys). Text has none."""
        return train_docs

    def copies(self, transpose: int) -> int:
        """How many versions of each train document ``augment`` gives (1: the document alone)."""
        return 1

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Facts for ``seqgen corpus info`` (documents, characters or notes, source, ...)."""

    def split_sizes(self, val_frac: float, test_frac: float) -> dict[str, int]:
        """Size of each split in the corpus's own unit (pieces here; text counts characters)."""
        return {split: len(docs) for split, docs in self.splits(val_frac, test_frac).items()}


#: Named corpora: name -> (one-line description, factory). Adapters register themselves here.
NAMED: dict[str, tuple[str, Callable[[], Corpus]]] = {}
#: The adapter modules, imported on first use; importing one registers what it offers. Their path
#: readers are tried in this order: music first, since text takes any file.
ADAPTERS = ("seqgen.music.corpus", "seqgen.text.shakespeare", "seqgen.text.corpus")
#: Adapter module -> its path reader: a corpus, or None when the path is not its kind of data.
PATH_READERS: dict[str, Callable[[Path, str], Corpus | None]] = {}


def register_corpus(name: str, description: str) -> Callable[[Callable[[], Corpus]], Callable[[], Corpus]]:
    """Decorator for a zero-argument factory that builds the named corpus."""

    def wrap(factory: Callable[[], Corpus]) -> Callable[[], Corpus]:
        NAMED[name] = (description, factory)
        return factory

    return wrap


def register_path_reader(reader: Callable[[Path, str], Corpus | None]) -> Callable[[Path, str], Corpus | None]:
    """Decorator for ``reader(path, encoding)``, tried in ADAPTERS order by ``load_corpus``."""
    PATH_READERS[reader.__module__] = reader
    return reader


def _load_adapters() -> None:
    for module in ADAPTERS:
        importlib.import_module(module)


def list_corpora() -> dict[str, str]:
    """Named corpora and their one-line descriptions."""
    _load_adapters()
    return {name: description for name, (description, _) in sorted(NAMED.items())}


def corpus_info(corpus: Corpus, val_frac: float, test_frac: float) -> dict[str, Any]:
    """The corpus's facts and its split sizes (``seqgen corpus info`` adds the codec's)."""
    info = dict(corpus.describe())
    info.update({f"{split} size": size for split, size in corpus.split_sizes(val_frac, test_frac).items()})
    return info


def load_corpus(spec: str, encoding: str = "utf-8") -> Corpus:
    """Resolve a corpus name (``shakespeare``, ``bach``, ...) or a file/folder path."""
    _load_adapters()
    if spec in NAMED:
        return NAMED[spec][1]()
    path = Path(os.path.expanduser(spec))
    if not path.exists():
        known = ", ".join(sorted(NAMED))
        raise SeqgenError(f"no corpus named {spec!r} and no such file or folder; named corpora: {known}")
    for module in ADAPTERS:
        reader = PATH_READERS.get(module)
        corpus = reader(path, encoding) if reader else None
        if corpus is not None:
            return corpus
    raise SeqgenError(f"{path} holds no text or music seqgen can read")
