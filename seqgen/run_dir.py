"""A run directory: resolved config, metrics log, loss curve, checkpoints, and a lock file.

The lock stops two trainings from writing into the same directory and overwriting each other's
checkpoints; a lock left by a process that no longer exists is taken over.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from seqgen.atomic import atomic_write
from seqgen.errors import SeqgenError
from seqgen.paths import RUNS_DIR, slug


def new_run_path(corpus: str, cell: str) -> Path:
    return RUNS_DIR / f"{slug(Path(corpus).name)}-{cell}-{time.strftime('%Y%m%d-%H%M%S')}"


class RunDir:
    """Owns one run directory for the duration of a training (use as a context manager)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = path / ".lock"
        self.metrics = path / "metrics.jsonl"

    def __enter__(self) -> RunDir:
        self.path.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if _alive(self.lock):
                    raise SeqgenError(
                        f"another training is writing into {self.path} (lock file {self.lock}); "
                        "use another --run-dir or wait for it to finish"
                    ) from None
                self.lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return self
        raise SeqgenError(f"could not lock {self.path}")

    def __exit__(self, *exc: object) -> None:
        self.lock.unlink(missing_ok=True)

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write(self.path / "config.json", json.dumps(config, indent=2))

    def log(self, row: dict[str, Any]) -> None:
        with open(self.metrics, "a") as f:
            f.write(json.dumps(row) + "\n")


def _alive(lock: Path) -> bool:
    """Whether the process that wrote the lock still runs (an empty or garbled lock is stale)."""
    try:
        pid = int(lock.read_text().strip())
    except ValueError:
        return False
    except OSError:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
