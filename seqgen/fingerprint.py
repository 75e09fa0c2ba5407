"""One content fingerprint for the files a corpus is read from; it keys the token and parse caches.

Content, not size and modification time: an edit that keeps the size (a typo fixed, a note's
velocity changed) or a copy that keeps the old mtime must still rebuild the caches, and hashing
the bytes costs far less than the parsing and tokenizing it guards. Text and music adapters both
use it, and neither may import the other, so it lives here on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

#: Bytes per read, so a corpus larger than memory can be hashed.
CHUNK_BYTES = 1 << 20


def content_fingerprint(root: Path, files: Iterable[Path], extra: str) -> str:
    """16 hex digits of sha256 over ``extra`` (whatever else changes what the bytes mean: an
    encoding, an adapter version) and each file's path relative to ``root``, size and bytes.
    The size goes before the bytes so that where one file ends and the next begins is unambiguous."""
    h = hashlib.sha256(extra.encode())
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\0{f.stat().st_size}\0".encode())
        with f.open("rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                h.update(chunk)
    return h.hexdigest()[:16]
