"""Checkpoints: one self-contained file (config, tokenizer, weights, training state), safe to load.

``Checkpoint`` is the one owner of what a checkpoint holds; everything else reads its fields, never
the raw payload. On disk it is a dict of plain data and tensors, written atomically (temp file,
fsync, rename) so a crash or a full disk never leaves a half-written checkpoint in place of a good
one, and loaded with ``weights_only=True``, so a crafted file cannot run code.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from seqgen.atomic import atomic_path
from seqgen.config import Config
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.paths import RUNS_DIR
from seqgen.tokenizer import Tokenizer, tokenizer_from_state

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What a checkpoint holds. ``optimizer``, ``rng`` and ``state`` are there in checkpoints a
    run can resume from (``last.pt`` and ``best.pt`` of ``seqgen train``)."""

    config: dict[str, Any]  # Config.to_dict()
    tokenizer: dict[str, Any]  # Tokenizer.state_dict()
    model: dict[str, Tensor]  # LanguageModel.state_dict()
    corpus: str = ""
    domain: str = ""
    step: int = 0
    train_time: float = 0.0  # seconds of training so far, evaluation excluded
    best_val: float = math.inf  # nats/token
    optimizer: dict[str, Any] | None = None
    rng: dict[str, Tensor] = field(default_factory=dict)
    state: tuple[Tensor, ...] = ()  # the carried hidden state of every training stream
    path: Path | None = field(default=None, compare=False)  # where it was loaded from

    @classmethod
    def load(cls, spec: str | Path | None, name: str = "best.pt") -> Checkpoint:
        """Resolve ``spec`` (see ``resolve_checkpoint``) and read the checkpoint there."""
        path = resolve_checkpoint(spec, name)
        payload = load_checkpoint(path)
        names = {f.name for f in fields(cls)} - {"path"}
        missing = [n for n in ("config", "tokenizer") if not isinstance(payload.get(n), dict)]
        if missing:
            raise SeqgenError(f"{path} is damaged: its {missing[0]} is missing or not a table")
        return cls(**{k: v for k, v in payload.items() if k in names}, path=path)

    def save(self, path: Path) -> None:
        """Write atomically; the previous file at ``path`` survives any failure."""
        save_checkpoint(path, {f.name: getattr(self, f.name) for f in fields(self) if f.name != "path"})

    @property
    def resumable(self) -> bool:
        return self.optimizer is not None

    def build(self) -> tuple[LanguageModel, Tokenizer, Config]:
        """The model (weights loaded, CPU), tokenizer and config stored in this checkpoint."""
        try:
            config = Config.from_dict(self.config)
            tokenizer = tokenizer_from_state(self.tokenizer)
            model = LanguageModel(config.model)
            model.load_state_dict(self.model)
        except (KeyError, TypeError, RuntimeError) as err:
            raise SeqgenError(f"checkpoint is damaged or inconsistent: {str(err).splitlines()[0][:160]}") from None
        return model, tokenizer, config


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write a payload dict (plain data and tensors) to ``path`` atomically and durably."""
    with atomic_path(path, "checkpoint") as tmp:
        torch.save({"format_version": FORMAT_VERSION, **payload}, tmp)


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
    """Read and check a checkpoint file's payload; every failure becomes a one-line SeqgenError."""
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
