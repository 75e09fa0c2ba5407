"""Tokenizers (codecs): documents <-> token ids, fitted on the train split, stored as plain data.

Every tokenization is a class with the same interface (as in MidiTok): ``fit`` builds one from the
train documents, ``encode``/``decode`` convert, ``state_dict``/``from_state`` carry it inside a
checkpoint as plain data (no pickled objects), and ``units`` counts what the loss is normalised by
(characters for text, notes/beats/seconds for music) so different tokenizations compare fairly.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from seqgen.errors import SeqgenError

TOKENIZERS: dict[str, type[Tokenizer]] = {}


def register(cls: type[Tokenizer]) -> type[Tokenizer]:
    """Class decorator: make a tokenizer reachable by its ``kind`` from the CLI and checkpoints."""
    TOKENIZERS[cls.kind] = cls
    return cls


class Tokenizer(ABC):
    """The interface every codec implements; ``kind`` names it in configs and checkpoints."""

    kind: ClassVar[str]
    #: "text" or "music": which corpora and writers the tokenizer works with.
    domain: ClassVar[str]
    #: Ids that stand for "unknown" and must never be generated.
    banned: tuple[int, ...] = ()
    #: Bump when a code change gives a document other ids (or the state other fields), so token
    #: arrays cached by an older version are rebuilt rather than trusted.
    version: ClassVar[int] = 1
    #: The ``fit`` options that change the ids (``vocab_size``, ``steps_per_quarter``, ...): the
    #: token cache passes exactly these to ``fit`` and keys its folders by them.
    fit_options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def fit(cls, train_docs: Sequence[Any], **options: Any) -> Tokenizer:
        """Build the tokenizer from the train split only (no leakage from val/test)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> Tokenizer:
        """Rebuild from ``state_dict()`` output."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Plain data (str, int, float, bytes, lists, dicts) that ``from_state`` accepts."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids; ids are ``0 .. vocab_size - 1``."""

    @abstractmethod
    def encode(self, doc: Any) -> list[int]:
        """Encode a whole document. Unknown symbols map to a fallback id, never raise."""

    def encode_array(self, doc: Any) -> np.ndarray:
        """``encode`` as a 1-D int64 array; tokenizers with a vectorised path override it."""
        return np.asarray(self.encode(doc), dtype=np.int64)

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> Any:
        """Decode any id sequence (generated ones are often malformed) without raising."""

    def encode_seed(self, seed: str) -> list[int]:
        """Encode a user's prompt strictly: an empty one, or one with symbols the vocabulary
        lacks, is refused with a SeqgenError saying so. Every caller's seed passes here."""
        if not seed:
            raise SeqgenError('the seed is empty: give a seed (--seed) to start from, e.g. --seed "ROMEO:"')
        return self._encode_seed(seed)

    @abstractmethod
    def _encode_seed(self, seed: str) -> list[int]:
        """``encode_seed`` for a non-empty seed."""

    @abstractmethod
    def start_ids(self) -> list[int]:
        """What to feed the model, from a zero state, to begin a new document when there is no
        seed: what precedes a document in the training stream (music: the ``Piece`` token)."""

    @abstractmethod
    def units(self, doc: Any) -> dict[str, float]:
        """Amounts to normalise loss by, e.g. ``{"chars": 1234}`` or ``{"notes": .., "beats": ..}``."""


def fit_tokenizer(kind: str, train_docs: Sequence[Any], **options: Any) -> Tokenizer:
    """Fit the tokenizer named ``kind`` on the train documents."""
    return tokenizer_class(kind).fit(train_docs, **options)


def tokenizer_from_state(state: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer saved inside a checkpoint."""
    return tokenizer_class(state.get("kind", "?")).from_state(state)


#: Where each tokenizer is defined; its module is imported on first use, so text-only runs never
#: pay for importing music21 and this module imports no tokenizer (no cycle).
PLUGINS = {
    "char": "seqgen.text.char",
    "bpe": "seqgen.text.subword",
    "unigram": "seqgen.text.subword",
    "grid": "seqgen.music.grid",
    "performance": "seqgen.music.performance",
}


def tokenizer_class(kind: str) -> type[Tokenizer]:
    """The tokenizer class registered under ``kind``."""
    if kind not in TOKENIZERS and kind in PLUGINS:
        importlib.import_module(PLUGINS[kind])
    if kind not in TOKENIZERS:
        known = ", ".join(sorted(set(TOKENIZERS) | set(PLUGINS)))
        raise SeqgenError(f"unknown tokenizer {kind!r}; known tokenizers: {known}")
    return TOKENIZERS[kind]

