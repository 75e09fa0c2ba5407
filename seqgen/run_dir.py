"""A run directory: resolved config, metrics log, loss curve, checkpoints, and a lock.

The lock stops two trainings from writing into the same directory and overwriting each other's
checkpoints. It is an OS lock (``flock``) on ``.lock``, held for the whole run: the kernel grants it
to exactly one process and releases it when that process exits or is killed, so no stale lock can
block a resume and no PID has to be trusted. The file stays behind (harmless); the PID written into
it only tells the user who holds it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from seqgen.atomic import atomic_write
from seqgen.errors import SeqgenError
from seqgen.paths import RUNS_DIR, slug

#: Temporary names made by ``seqgen.atomic.atomic_path``: ``.<stem>.tmp-<pid>-<8 hex><suffix>``.
_TEMP_NAME = re.compile(r"\..+\.tmp-(\d+)-[0-9a-f]{8}(\.[^.]*)?")


def new_run_path(corpus: str, cell: str) -> Path:
    return RUNS_DIR / f"{slug(Path(corpus).name)}-{cell}-{time.strftime('%Y%m%d-%H%M%S')}"


def read_metrics(metrics: Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl``, skipping damaged lines: a kill or a full disk mid-append
    leaves a torn line, which must not make every later plot or resume fail."""
    if not metrics.exists():
        return []
    rows = []
    for line in metrics.read_bytes().splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # also UnicodeDecodeError
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            rows.append(row)
    return rows


class RunDir:
    """Owns one run directory for the duration of a training (use as a context manager)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = path / ".lock"
        self.metrics = path / "metrics.jsonl"
        self._lock_fd: int | None = None

    def __enter__(self) -> RunDir:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise _unwritable(self.path, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._remove_leftover_temp_files()
        except BlockingIOError:  # held by a live process (the kernel drops the locks of dead ones)
            pid = os.read(fd, 20).decode(errors="replace").strip()
            os.close(fd)
            holder = f" (pid {pid})" if pid.isdigit() else ""
            raise SeqgenError(f"another training{holder} is writing into {self.path}; "
                              "use another --run-dir or wait for it to finish") from None
        except OSError as err:  # e.g. a full disk: give the lock back rather than run half set up
            os.close(fd)
            raise _unwritable(self.path, err) from None
        self._lock_fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock; the file is left for the next run to reuse
            self._lock_fd = None

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write(self.path / "config.json", json.dumps(config, indent=2))

    def log(self, row: dict[str, Any]) -> None:
        """Append ``row`` as one whole line in a single ``O_APPEND`` write, so a kill can tear at
        most this line; a line torn by an earlier append is ended first, so the row is not glued
        to it (and lost with it)."""
        line = (json.dumps(row) + "\n").encode()
        try:
            fd = os.open(self.metrics, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
                if os.write(fd, line) != len(line):  # a short write to a file means the disk is full
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            finally:
                os.close(fd)
        except OSError as err:
            raise _unwritable(self.path, err) from None

    def truncate_metrics(self, after_step: int) -> None:
        """Keep only the rows up to ``after_step`` (and no damaged lines). A resumed run goes on
        from its checkpoint and logs the steps after it again; without this they appear twice."""
        if self.metrics.exists():
            rows = [row for row in read_metrics(self.metrics) if row["step"] <= after_step]
            atomic_write(self.metrics, "".join(json.dumps(row) + "\n" for row in rows), "metrics log")

    def _remove_leftover_temp_files(self) -> None:
        """Delete temporary files of atomic writes cut short by a kill. Only those of processes
        that no longer exist: another command (e.g. sampling into this folder) may be mid-write."""
        for entry in self.path.iterdir():
            match = _TEMP_NAME.fullmatch(entry.name)
            if match and entry.is_file() and not _alive(int(match[1])):
                entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to another user
        return True
    return True


def _unwritable(folder: Path, err: OSError) -> SeqgenError:
    return SeqgenError(f"cannot write into run directory {folder}: {err.strerror or err} "
                       "(choose another --run-dir)")
