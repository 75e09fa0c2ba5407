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
from seqgen.config import SECTIONS, Config
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel, weight_shapes
from seqgen.paths import RUNS_DIR
from seqgen.tokenizer import Tokenizer, tokenizer_class, tokenizer_from_state

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
        """The model (weights loaded, CPU), tokenizer and config stored in this checkpoint.

        Everything is checked before anything is built: sizes read from a damaged or crafted file
        (hidden=40000 beside small weights, a 10^8-step codec) must not be allocated first and
        compared afterwards."""
        config = self.validate()
        tokenizer = self._tokenizer(config.model.vocab_size)
        model = LanguageModel(config.model)
        model.load_state_dict(self.model)
        return model, tokenizer, config

    def validate(self) -> Config:
        """The stored config, once it is valid and every stored weight has the shape it implies and
        a finite value."""
        config = _stored_config(self.config)
        weights = self.model
        if not isinstance(weights, dict) or not all(isinstance(t, Tensor) for t in weights.values()):
            raise _damaged("its weights are not a table of tensors")
        # Every layer has tensors of its own; this bound also spares listing 10^9 layers' shapes.
        if config.model.layers > len(weights):
            raise _damaged(f"its config has {config.model.layers} layers but there are only {len(weights)} weights")
        expected = weight_shapes(config.model)
        if expected.keys() != weights.keys():
            name = min(expected.keys() ^ weights.keys(), key=str)
            raise _damaged(f"weight {name} is {'missing' if name in expected else 'unexpected'}")
        for name, tensor in weights.items():
            if tensor.shape != expected[name]:
                raise _damaged(f"weight {name} has shape {tuple(tensor.shape)}, its config implies {expected[name]}")
            if not torch.isfinite(tensor).all():
                raise _damaged(f"weight {name} holds NaN or infinite values")
        return config

    def _tokenizer(self, vocab_size: int) -> Tokenizer:
        """The stored tokenizer, refused unless it has exactly the model's ``vocab_size`` ids: a
        larger one crashes sampling with an IndexError, a smaller one samples ids it cannot decode."""
        state = self.tokenizer
        if not isinstance(state, dict) or not isinstance(state.get("kind"), str):
            raise _damaged("its tokenizer is not a table with a kind")
        try:
            tokenizer_class(state["kind"])
        except SeqgenError as err:
            raise _damaged(str(err)) from None
        try:
            tokenizer = tokenizer_from_state(state)
        except (SeqgenError, KeyError, TypeError, ValueError, AttributeError, IndexError) as err:  # codecs check their own sizes
            raise _damaged(f"its {state['kind']} tokenizer cannot be rebuilt ({err})") from None
        if tokenizer.vocab_size != vocab_size:
            raise SeqgenError(f"checkpoint is inconsistent: the tokenizer has {tokenizer.vocab_size} ids "
                              f"but the model {vocab_size}")
        return tokenizer


def _stored_config(data: Any) -> Config:
    """A stored config (``Config.to_dict()``: a table of sections of plain values), validated."""
    if not isinstance(data, dict) or not all(k in SECTIONS and isinstance(v, dict) for k, v in data.items()):
        raise _damaged("its config is not a table of settings by section")
    try:
        config = Config.from_dict(data)
        config.validate()
    except SeqgenError as err:
        raise _damaged(f"its config is invalid: {err}") from None
    return config


def _damaged(detail: str) -> SeqgenError:
    return SeqgenError(f"checkpoint is damaged: {_first_line(detail, 240)}")


def _first_line(detail: object, limit: int) -> str:
    """One short line, however long or multi-line the text (often from a crafted file) is."""
    text = str(detail).strip()
    return text.splitlines()[0][:limit] if text else type(detail).__name__


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write a payload dict (plain data and tensors) to ``path`` atomically and durably."""
    with atomic_path(path, "checkpoint") as tmp:
        try:
            torch.save({"format_version": FORMAT_VERSION, **payload}, tmp)
        except RuntimeError as err:  # torch's zip writer reports a full disk so ("unexpected pos ...")
            raise SeqgenError(f"could not write checkpoint {path}: disk full or write failed "
                              f"({_first_line(err, 120)})") from None


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
        raise SeqgenError(f"{path} is not a safe seqgen checkpoint (refused to load: {_first_line(err, 200)})") from None
    except Exception as err:  # a malformed file can fail anywhere inside torch.load's parsers
        raise SeqgenError(f"{path} is not a readable checkpoint (truncated or not a checkpoint: "
                          f"{_first_line(err, 120)})") from None
    if not isinstance(payload, dict) or "format_version" not in payload or "model" not in payload:
        raise SeqgenError(f"{path} is not a seqgen checkpoint")
    version = payload["format_version"]
    if type(version) is not int or version < 1:  # not bool: True == 1 would pass as format 1
        raise SeqgenError(f"{path} is damaged: its format version is {version!r:.40}, not a whole number >= 1")
    if version > FORMAT_VERSION:
        raise SeqgenError(
            f"{path} has checkpoint format {version}, newer than this seqgen understands "
            f"({FORMAT_VERSION}); upgrade seqgen"
        )
    return payload
