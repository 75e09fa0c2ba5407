"""Subword tokenizers (BPE and unigram) trained with sentencepiece, carried as model bytes.

Both are set up so that text survives a round trip exactly (newlines, runs of spaces, a line's
first word without a leading space) and so that decoding is *concatenative*: every id decodes to a
fixed string, so the sampler can stream one token at a time. Nothing touches the disk.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

import sentencepiece as spm

from seqgen.errors import SeqgenError
from seqgen.text.char import TextTokenizer
from seqgen.tokenizer import register

#: Longest training "sentence" in characters; longer lines are cut (sentencepiece skips, with only
#: a log line, any sentence over ``max_sentence_length`` bytes, so a file without newlines would
#: otherwise train on nothing).
MAX_LINE = 8192

#: Trainer options and why:
#: - identity normalisation, no dummy prefix, no whitespace cleanup: text comes back byte-exact;
#: - "\n" as a user-defined symbol: newlines (which separate training sentences) encode as one id;
#: - byte fallback + full character coverage: every training character gets its own piece and any
#:   other character still encodes (as UTF-8 bytes), so encoding never needs <unk>;
#: - split digits: numbers are read digit by digit instead of memorised;
#: - no <s>/</s>: the model streams text, it has no use for sentence markers;
#: - one thread: training is deterministic (same text -> same model bytes) and takes seconds anyway.
TRAINER_OPTIONS: dict[str, Any] = {
    "normalization_rule_name": "identity",
    "add_dummy_prefix": False,
    "remove_extra_whitespaces": False,
    "allow_whitespace_only_pieces": True,
    "user_defined_symbols": ["\n"],
    "byte_fallback": True,
    "character_coverage": 1.0,
    "split_digits": True,
    "max_sentence_length": 4 * MAX_LINE,  # bytes: 4 per character at most in UTF-8
    "bos_id": -1,
    "eos_id": -1,
    "num_threads": 1,
    # Train on at most this many lines (a fixed-seed random sample of a larger text), which bounds
    # memory and time on gigabyte corpora; tiny-shakespeare has 40,000.
    "input_sentence_size": 2_000_000,
    "shuffle_input_sentence": True,
    "minloglevel": 2,
}


def _sentences(docs: Iterable[str]) -> Iterator[str]:
    """Non-empty lines of the documents, long ones cut into MAX_LINE pieces."""
    for doc in docs:
        for line in doc.split("\n"):
            for start in range(0, len(line), MAX_LINE):
                yield line[start : start + MAX_LINE]


def _size_error(exc: RuntimeError, vocab_size: int) -> SeqgenError:
    """Turn sentencepiece's vocabulary-size complaints into advice with the workable bound."""
    msg = str(exc)
    too_high = re.search(r"value <= (\d+)", msg)
    if too_high:
        return SeqgenError(
            f"vocab size {vocab_size} is too large for this training text: use --vocab-size {too_high.group(1)} or less"
        )
    too_low = re.search(r"smaller than required_chars\. \d+ vs (\d+)", msg)
    if too_low:
        return SeqgenError(
            f"vocab size {vocab_size} is too small: the 256 byte pieces, <unk>, newline and every "
            f"character of the training text need {too_low.group(1)}; use --vocab-size {too_low.group(1)} or more"
        )
    if "all_chars_count" in msg:  # e.g. only NUL bytes, which sentencepiece ignores
        return SeqgenError("the training text has no characters sentencepiece can learn from")
    return SeqgenError(f"sentencepiece could not train a tokenizer: {msg.strip() or exc!r}")


def _piece_text(sp: spm.SentencePieceProcessor, i: int) -> str:
    """What id ``i`` decodes to, on its own (the basis of concatenative decoding).

    Byte-fallback pieces only appear for characters absent from the training text. An ASCII byte
    decodes to its character; a UTF-8 lead byte to one U+FFFD and a continuation byte to nothing,
    so an unseen character decodes to exactly one U+FFFD (as CharTokenizer's unknown does) whatever
    tokens surround it. Exact bytes cannot be recovered per token without breaking concatenation.
    """
    piece = sp.id_to_piece(i)
    if sp.is_byte(i):
        byte = int(piece[3:5], 16)
        return chr(byte) if byte < 0x80 else ("" if byte < 0xC0 else "\ufffd")
    if sp.is_unknown(i):
        return "\ufffd"
    if sp.is_control(i):
        return ""
    return piece.replace("\u2581", " ")


class SentencePieceTokenizer(TextTokenizer):
    """A sentencepiece model; subclasses choose the algorithm (``model_type``)."""

    model_type: ClassVar[str]
    fit_options = ("vocab_size",)

    def __init__(self, model: bytes) -> None:
        self.model = bytes(model)
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(self.model)
        except (RuntimeError, OSError) as exc:
            raise SeqgenError(f"the saved {self.kind} tokenizer is corrupt or not a sentencepiece model ({exc})") from exc
        ids = range(self.sp.get_piece_size())
        self.table = [_piece_text(self.sp, i) for i in ids]
        # Never generated: <unk> and the byte-fallback pieces decode to U+FFFD (or to nothing), and
        # control ids to nothing. Seeds still encode through the byte pieces.
        self.banned = tuple(i for i in ids if self.sp.is_unknown(i) or self.sp.is_control(i) or self.sp.is_byte(i))

    @classmethod
    def fit(cls, train_docs: Iterable[str], vocab_size: int = 1000, **options: Any) -> SentencePieceTokenizer:
        """Train on the train documents only. Other options are ignored, so one options dict can
        serve every tokenizer kind."""
        if not any(doc.strip() for doc in train_docs):
            raise SeqgenError("cannot train a subword tokenizer on empty text")
        writer = io.BytesIO()
        spm.set_random_generator_seed(0)  # a sampled (gigabyte) text yields the same model every run
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=(s for s in _sentences(train_docs) if s),
                model_writer=writer,
                model_type=cls.model_type,
                vocab_size=int(vocab_size),
                **TRAINER_OPTIONS,
            )
        except RuntimeError as exc:
            raise _size_error(exc, vocab_size) from exc
        return cls(writer.getvalue())

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SentencePieceTokenizer:
        if not isinstance(state.get("model"), (bytes, bytearray)):
            raise SeqgenError(f"the saved {cls.kind} tokenizer has no model bytes")
        return cls(state["model"])

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model}

    @property
    def vocab_size(self) -> int:
        return len(self.table)

    def encode(self, doc: str) -> list[int]:
        return self.sp.encode(doc, out_type=int)

    def decode(self, ids: Sequence[int]) -> str:
        """Join each id's fixed text; ids out of range decode to nothing."""
        table, n = self.table, len(self.table)
        return "".join(table[i] if 0 <= i < n else "" for i in ids)

    def _encode_seed(self, seed: str) -> list[int]:
        """Characters unseen in training still encode (as bytes); nothing is refused."""
        return self.encode(seed)


@register
class BPETokenizer(SentencePieceTokenizer):
    """Byte-pair encoding: merges the most frequent adjacent pieces until the vocabulary is full."""

    kind = "bpe"
    model_type = "bpe"


@register
class UnigramTokenizer(SentencePieceTokenizer):
    """Unigram language model: prunes a large candidate vocabulary to the most likely pieces."""

    kind = "unigram"
    model_type = "unigram"
