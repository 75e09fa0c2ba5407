"""Atomic file writes: a file appears whole under its name or not at all.

Output files (samples, MIDI, pictures) are written to a temporary name beside the target and
renamed over it, so an interrupted write never leaves a half file where a good one was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seqgen.errors import SeqgenError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path with the same suffix beside ``path``; rename it over ``path`` on
    success, remove it on failure. OS errors become a SeqgenError naming the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SeqgenError(f"could not write {path}: {err.strerror or err}") from None
    # Not mkstemp: the writers create the file themselves, so it gets the user's usual mode.
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        raise SeqgenError(f"could not write {path}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)
