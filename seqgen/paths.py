"""Where seqgen keeps things on disk, and the one way a user's name becomes a safe file name.

Raw corpora, derived token arrays and training runs live apart: the corpora may sit on a
read-only share, while the cache and the runs must be writable.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Default parent folder of run directories (``seqgen train`` writes ``checkpoints/<run>/``).
RUNS_DIR = Path("checkpoints")


def corpora_dir() -> Path:
    """Where raw corpora are looked up and downloaded: ``$SEQGEN_CORPORA`` or ``./corpora``."""
    return Path(os.environ.get("SEQGEN_CORPORA", "corpora")).expanduser()


def cache_dir() -> Path:
    """Where derived token arrays and parsed music go: ``$SEQGEN_CACHE`` or ``./corpora/cache``."""
    return Path(os.environ.get("SEQGEN_CACHE", Path("corpora") / "cache")).expanduser()


def slug(name: str, limit: int = 60, fallback: str = "corpus") -> str:
    """``name`` as a file-name part: letters, digits, ``-`` and ``_`` kept, anything else ``_``.

    No dot survives, so a slug can never be ``..`` or a hidden name.
    """
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:limit] or fallback
