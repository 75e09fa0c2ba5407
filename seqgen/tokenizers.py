"""Tokenizers (codecs): documents <-> token ids, fitted on the train split, stored as plain data.

Every tokenization is a class with the same interface (as in MidiTok): ``fit`` builds one from the
train documents, ``encode``/``decode`` convert, ``state_dict``/``from_state`` carry it inside a
checkpoint as plain data (no pickled objects), and ``units`` counts what the loss is normalised by
(characters for text, notes/beats/seconds for music) so different tokenizations compare fairly.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
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

    @abstractmethod
    def encode_seed(self, seed: str) -> list[int]:
        """Encode a user's prompt strictly: raise SeqgenError naming what the vocabulary lacks."""

    @abstractmethod
    def units(self, doc: Any) -> dict[str, float]:
        """Amounts to normalise loss by, e.g. ``{"chars": 1234}`` or ``{"notes": .., "beats": ..}``."""


class TextTokenizer(Tokenizer):
    """Text tokenizers are concatenative: ``decode(a + b) == decode(a) + decode(b)``.

    That property lets the sampler stream text one token at a time without re-decoding.
    """

    domain = "text"

    def units(self, doc: str) -> dict[str, float]:
        return {"chars": len(doc)}


@register
class CharTokenizer(TextTokenizer):
    """One id per character seen in the train split, plus a final ``unk`` id.

    Characters that appear only in val/test encode to ``unk`` (so evaluation never fails and its
    loss stays honest); a seed with such characters is refused with their names instead. Fitting
    and encoding work on code-point arrays (a lookup table indexed by code point), so a gigabyte of
    text takes seconds rather than a Python loop per character.
    """

    kind = "char"
    UNK = "\ufffd"

    def __init__(self, chars: str) -> None:
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self.unk_id = len(chars)
        self.banned = (self.unk_id,)
        points = _code_points(chars)
        # Code point -> id; the last entry (one past the largest known code point) is unk, and
        # every larger code point is clamped onto it.
        self.lookup = np.full(int(points.max(initial=0)) + 2, self.unk_id, dtype=np.int64)
        self.lookup[points] = np.arange(len(points))

    @classmethod
    def fit(cls, train_docs: Iterable[str], **options: Any) -> CharTokenizer:
        seen: set[int] = set()
        for doc in train_docs:
            seen.update(np.flatnonzero(np.bincount(_code_points(doc))).tolist())
        return cls("".join(map(chr, sorted(seen))))

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CharTokenizer:
        return cls(state["chars"])

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": self.chars}

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 1

    def encode(self, doc: str) -> list[int]:
        return self.encode_array(doc).tolist()

    def encode_array(self, doc: str) -> np.ndarray:
        return self.lookup[np.minimum(_code_points(doc), len(self.lookup) - 1)]

    def decode(self, ids: Sequence[int]) -> str:
        chars, unk = self.chars, self.UNK
        return "".join(chars[i] if 0 <= i < len(chars) else unk for i in ids)

    def encode_seed(self, seed: str) -> list[int]:
        if not seed:
            raise SeqgenError("the seed is empty: give at least one character")
        missing = sorted({c for c in seed if c not in self.index})
        if missing:
            shown = ", ".join(repr(c) for c in missing)
            raise SeqgenError(
                f"the seed has characters the model's vocabulary lacks: {shown} "
                "(remove them or train on a corpus that has them)"
            )
        return self.encode(seed)


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as a uint32 array (lone surrogates, which Python strings may
    hold after a lenient decode, pass through as their own code points)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def fit_tokenizer(kind: str, train_docs: Sequence[Any], **options: Any) -> Tokenizer:
    """Fit the tokenizer named ``kind`` on the train documents."""
    return tokenizer_class(kind).fit(train_docs, **options)


def tokenizer_from_state(state: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer saved inside a checkpoint."""
    return tokenizer_class(state.get("kind", "?")).from_state(state)


#: Tokenizers defined outside this module, imported on first use so that text-only runs never pay
#: for importing music21 (and this module stays free of import cycles).
PLUGINS = {
    "bpe": "seqgen.subword",
    "unigram": "seqgen.subword",
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

