"""The runs the server offers: the run folders under one checkpoint folder, loaded on demand.

A request names a run from the listing; it can never give a path. Each checkpoint file is loaded
once per (modification time, size), so a run that is still training shows its newest ``best.pt``
and an unchanged one costs nothing. Every request samples from the same loaded model: the sampler
copies the weights out (``LanguageModel.stepper``) and never runs or changes the module.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgen.checkpoint import Checkpoint, resolve_checkpoint
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.serve.errors import ApiError
from seqgen.tokenizer import Tokenizer

CHECKPOINT_FILES = ("best.pt", "last.pt")


@dataclass
class Run:
    """A loaded checkpoint: its facts for the listing, and the model ready to sample."""

    info: dict[str, Any]
    folder: Path
    model: LanguageModel
    tokenizer: Tokenizer


class Catalog:
    """The runs under one folder; loads each checkpoint once per (path, mtime, size)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.cache: dict[Path, tuple[tuple[int, int], Run]] = {}

    def folders(self) -> dict[str, Path]:
        """Run name -> run folder: each visible subfolder holding best.pt or last.pt (and the
        folder itself when it is a run)."""
        found: dict[str, Path] = {}
        candidates = [self.root, *sorted(self.root.iterdir())] if self.root.is_dir() else []
        for folder in candidates:
            name = folder.resolve().name if folder == self.root else folder.name
            if folder.is_dir() and name and not name.startswith(".") and any(
                    (folder / n).is_file() for n in CHECKPOINT_FILES):
                found.setdefault(name, folder)
        return found

    def listing(self) -> list[dict[str, Any]]:
        """Every run's facts, newest first; a run that cannot be loaded shows its error."""
        rows = []
        for name, folder in self.folders().items():
            try:
                rows.append(self.load(name, folder).info)
            except SeqgenError as err:
                rows.append({"name": name, "error": str(err)})
        return sorted(rows, key=lambda r: -r.get("modified", 0))

    def get(self, name: Any) -> Run:
        """The run called ``name`` in the listing; anything else is refused."""
        if not isinstance(name, str) or not name:
            raise ApiError(400, "give a checkpoint: a run name from GET /api/checkpoints")
        if name.startswith(".") or any(c in name for c in "/\\\0"):
            raise ApiError(400, f"invalid checkpoint name {name!r}: give a run name from GET /api/checkpoints")
        folder = self.folders().get(name)
        if folder is None:
            raise ApiError(404, f"no run named {name!r} under the checkpoint folder")
        return self.load(name, folder)

    def load(self, name: str, folder: Path) -> Run:
        """The run in ``folder``, from the cache unless its checkpoint file changed."""
        path = resolve_checkpoint(folder)
        try:
            stat = path.stat()
        except OSError as err:  # removed since the folder was listed
            raise SeqgenError(f"cannot read {path}: {err.strerror or err}") from None
        key = (stat.st_mtime_ns, stat.st_size)
        with self.lock:
            cached = self.cache.get(path)
            if cached and cached[0] == key:
                return cached[1]
            ckpt = Checkpoint.load(path)
            model, tokenizer, config = ckpt.build()
            model.float().cpu().eval()
            best = ckpt.best_val
            info = {
                "name": name, "file": path.name, "corpus": ckpt.corpus or config.data.corpus,
                "domain": tokenizer.domain, "tokenizer": tokenizer.kind,
                "cell": config.model.cell, "layers": config.model.layers, "hidden": config.model.hidden,
                "vocab": tokenizer.vocab_size, "params": model.num_parameters(),
                "best_val": best if isinstance(best, float) and math.isfinite(best) else None,
                "step": ckpt.step, "modified": stat.st_mtime,
                "loss_curve": f"/api/runs/{name}/loss.png",
            }
            run = Run(info, folder, model, tokenizer)
            self.cache[path] = (key, run)
            return run
