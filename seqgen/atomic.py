"""Atomic, durable file writes: a file appears whole under its name or not at all.

Every file that matters (checkpoints, run config, samples, MIDI, pictures, downloads) is written to
a temporary name beside its target, flushed to disk, renamed over the target, and the rename is
flushed too, so neither a crash nor a power cut leaves a half file where a good one was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seqgen.errors import SeqgenError


@contextmanager
def atomic_path(path: Path, what: str = "") -> Iterator[Path]:
    """Yield a temporary path with the same suffix beside ``path`` for a writer to create; on
    success make it durable and rename it over ``path``, on failure remove it. OS errors become a
    SeqgenError naming the file (``what`` says what it is, e.g. "checkpoint")."""
    path = Path(path)
    # Not mkstemp: the writers create the file themselves, so it gets the user's usual mode, and
    # it keeps the suffix, which some writers (pretty_midi, music21) read to pick a format.
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
        _fsync(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as err:
        label = f"{what} " if what else ""
        raise SeqgenError(f"could not write {label}{path}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(OSError):  # e.g. the folder is not there: nothing was left in it
            tmp.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes | str, what: str = "") -> None:
    """Write ``data`` (str as UTF-8) to ``path`` atomically and durably."""
    with atomic_path(path, what) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _fsync(path: Path, flags: int) -> None:
    """Flush a file's (or a folder's) data to disk. A folder that cannot be opened (some
    platforms) is skipped: the rename is then as durable as that system allows."""
    try:
        fd = os.open(path, flags)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)
