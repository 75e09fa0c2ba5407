"""Character tokenizer: one id per character of the train split, plus an ``unk`` id.

``TextTokenizer`` is the base of every text tokenizer (this one and the sentencepiece ones in
:mod:`seqgen.text.subword`): text tokenizers count characters as their unit, so bits per character
compare across them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from seqgen.errors import SeqgenError
from seqgen.tokenizer import Tokenizer, register


class TextTokenizer(Tokenizer):
    """Text tokenizers are concatenative: ``decode(a + b) == decode(a) + decode(b)``.

    That property lets the sampler stream text one token at a time without re-decoding.
    """

    domain = "text"

    #: What precedes a document in a text training stream: corpora join their documents (files,
    #: plays) with a newline, every line starts after one, and nanoGPT starts unseeded samples here.
    DOCUMENT_START = "\n"

    def units(self, doc: str) -> dict[str, float]:
        return {"chars": len(doc)}

    def start_ids(self) -> list[int]:
        """The newline before a document. Training streams start (and, at random, restart) from a
        zero state anywhere in the text, so a zero state fed a newline is a start the model knows."""
        try:
            return self.encode_seed(self.DOCUMENT_START)
        except SeqgenError:  # a vocabulary with no newline (a one-line corpus)
            raise SeqgenError("this model never saw a newline, so it knows no document start: give a seed") from None


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

    def _encode_seed(self, seed: str) -> list[int]:
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
