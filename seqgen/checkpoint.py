"""Checkpoints: one self-contained file (config, tokenizer, weights, training state), safe to load.

Written atomically (temp file, fsync, rename) so a crash or a full disk never leaves a
half-written checkpoint in place of a good one. Loaded with ``weights_only=True``: only tensors
and plain data are accepted, so a crafted file cannot run code.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from seqgen.config import Config
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.tokenizers import Tokenizer, tokenizer_from_state

FORMAT_VERSION = 1
RUNS_DIR = Path("checkpoints")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically; the previous file survives any failure."""
    payload = {"format_version": FORMAT_VERSION, **payload}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise SeqgenError(f"could not write checkpoint {path}: {err.strerror or err}") from None
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; a no-op where directories can't be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def resolve_checkpoint(spec: str | Path | None, name: str = "best.pt") -> Path:
    """A checkpoint file from a file path, a run directory, or (None) the newest run's ``name``."""
    if spec is None:
        candidates = list(RUNS_DIR.glob(f"*/{name}")) if RUNS_DIR.is_dir() else []
        if not candidates:
            raise SeqgenError(f"no checkpoint found under {RUNS_DIR}/: train one first (seqgen train) or pass --checkpoint")
        return max(candidates, key=lambda p: p.stat().st_mtime)
    path = Path(spec).expanduser()
    if path.is_dir():
        for candidate in (path / name, path / "last.pt"):
            if candidate.is_file():
                return candidate
        raise SeqgenError(f"no checkpoint ({name} or last.pt) in {path}")
    if not path.is_file():
        raise SeqgenError(f"checkpoint not found: {path}")
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint file; every failure becomes a one-line SeqgenError."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unsupported content"
        raise SeqgenError(f"{path} is not a safe seqgen checkpoint (refused to load: {first[:200]})") from None
    except Exception as err:  # a malformed file can fail anywhere inside torch.load's parsers
        raise SeqgenError(f"{path} is not a readable checkpoint (truncated or not a checkpoint: {str(err).strip()[:120] or type(err).__name__})") from None
    if not isinstance(payload, dict) or "format_version" not in payload or "model" not in payload:
        raise SeqgenError(f"{path} is not a seqgen checkpoint")
    version = payload["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SeqgenError(
            f"{path} has checkpoint format {version}, newer than this seqgen understands "
            f"({FORMAT_VERSION}); upgrade seqgen"
        )
    return payload


def model_from_checkpoint(payload: dict[str, Any]) -> tuple[LanguageModel, Tokenizer, Config]:
    """Rebuild the model, tokenizer and config stored in a loaded checkpoint."""
    try:
        config = Config.from_dict(payload["config"])
        tokenizer = tokenizer_from_state(payload["tokenizer"])
        model = LanguageModel(config.model)
        model.load_state_dict(payload["model"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise SeqgenError(f"checkpoint is damaged or inconsistent: {str(err).splitlines()[0][:160]}") from None
    return model, tokenizer, config


def load_model(spec: str | Path | None) -> tuple[LanguageModel, Tokenizer, Config, dict[str, Any]]:
    """Resolve, load and rebuild in one call: what ``sample`` and ``eval`` need."""
    payload = load_checkpoint(resolve_checkpoint(spec))
    return (*model_from_checkpoint(payload), payload)
