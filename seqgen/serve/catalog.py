"""The runs the server offers: the run folders under one checkpoint folder, loaded on demand.

A request names a run from the listing; it can never give a path. Each checkpoint file is loaded
once per (modification time, size), so a run that is still training shows its newest ``best.pt``
and an unchanged one costs nothing. Every request samples from the same loaded model: the sampler
copies the weights out (``LanguageModel.stepper``) and never runs or changes the module.

A run that cannot be loaded (a damaged or crafted file, one another tool half wrote) is one row
with its error in the listing, never a failed listing, and its failure is remembered like a
success so it is not read again until the file changes. Only MAX_MODELS models stay loaded (a
folder of many runs must not hold them all in memory); the listing's facts are kept for every run.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgen.checkpoint import Checkpoint, resolve_checkpoint
from seqgen.config import Config
from seqgen.errors import SeqgenError
from seqgen.generate import SampleRequest
from seqgen.model import LanguageModel
from seqgen.ranking import curate
from seqgen.serve.errors import ApiError
from seqgen.tokenizer import Tokenizer

CHECKPOINT_FILES = ("best.pt", "last.pt")
MAX_MODELS = 4  # loaded models kept; the least recently used goes first
#: Under this many steps a run is flagged "barely trained": its samples are mostly noise. (The
#: ``cpu`` preset trains about 1,000 steps in a minute on two cores.)
BARELY_TRAINED = 300
MIN_CURVE_POINTS = 3  # points a loss curve needs before it shows a trend
log = logging.getLogger("seqgen.serve")


@dataclass
class Run:
    """A loaded checkpoint: its facts for the listing, and the model ready to sample."""

    info: dict[str, Any]
    folder: Path
    model: LanguageModel
    tokenizer: Tokenizer
    config: Config

    def curate(self, samples: list[Any], request: SampleRequest) -> tuple[list[Any], list[dict[str, Any]] | None]:
        """The samples to send and, when the request ranks them (keep/rank), the kept ones'
        scores, best first (``seqgen.ranking``); otherwise all samples and None."""
        if not request.rank:
            return samples, None
        kept = curate(self.model, self.tokenizer, samples, request, self.config.data)
        return [sample for sample, _ in kept], [score.to_dict() for _, score in kept]


def printable(text: str) -> str:
    """``text`` with what UTF-8 cannot hold (a non-UTF-8 file name's escapes) replaced, so a
    JSON response can carry it."""
    return text.encode("utf-8", "replace").decode("utf-8")


class Catalog:
    """The runs under one folder; loads each checkpoint once per (path, mtime, size).

    ``lock`` guards only the two caches, never a load: a request for one run must not wait for
    another run's checkpoint to be read (two threads may load the same new file once each).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        #: checkpoint file -> (its (mtime, size), its listing facts or why it cannot be loaded)
        self.facts: dict[Path, tuple[tuple[int, int], dict[str, Any] | str]] = {}
        self.models: OrderedDict[Path, tuple[tuple[int, int], Run]] = OrderedDict()  # LRU, MAX_MODELS

    def folders(self) -> dict[str, Path]:
        """Run name -> run folder: each visible subfolder holding best.pt or last.pt (and the
        folder itself when it is a run)."""
        found: dict[str, Path] = {}
        candidates = [self.root, *sorted(self.root.iterdir())] if self.root.is_dir() else []
        for folder in candidates:
            name = folder.resolve().name if folder == self.root else folder.name
            if name and not name.startswith(".") and _holds_checkpoint(folder):
                found.setdefault(name, folder)
        return found

    def listing(self) -> list[dict[str, Any]]:
        """Every run's facts, newest first; a run that cannot be loaded shows its error."""
        rows = []
        for name, folder in self.folders().items():
            if printable(name) != name:
                rows.append({"name": printable(name), "error": "its folder name is not valid UTF-8: rename it"})
                continue
            try:
                rows.append(self.info(name, folder))
            except Exception as err:  # e.g. a folder that cannot be looked into
                rows.append({"name": name, "error": printable(_failure(folder, err))})
        return sorted(rows, key=lambda r: -r.get("modified", 0))

    def get(self, name: Any) -> Run:
        """The run called ``name`` in the listing; anything else is refused."""
        if not isinstance(name, str) or not name:
            raise ApiError(400, "give a checkpoint: a run name from GET /api/checkpoints")
        if name.startswith(".") or any(c in name for c in "/\\\0") or printable(name) != name:
            raise ApiError(400, f"invalid checkpoint name {name!r}: give a run name from GET /api/checkpoints")
        folder = self.folders().get(name)
        if folder is None:
            raise ApiError(404, f"no run named {name!r} under the checkpoint folder")
        return self.load(name, folder)

    def info(self, name: str, folder: Path) -> dict[str, Any]:
        """The listing's facts about the run in ``folder``, loading it only if they are not known."""
        path, key = _checkpoint(folder)
        with self.lock:
            known = self.facts.get(path)
        if known and known[0] == key and isinstance(known[1], dict):
            return known[1]
        return self.load(name, folder).info

    def load(self, name: str, folder: Path) -> Run:
        """The run in ``folder``, from the cache unless its checkpoint file changed; a file that
        failed to load before fails again without being read, until it changes."""
        path, key = _checkpoint(folder)
        with self.lock:
            cached = self.models.get(path)
            if cached and cached[0] == key:
                self.models.move_to_end(path)
                return cached[1]
            known = self.facts.get(path)
        if known and known[0] == key and isinstance(known[1], str):
            raise SeqgenError(known[1])
        try:
            run = _build(name, folder, path, key[0] / 1e9)
        except Exception as err:  # any damage in any file: this run's error, not the listing's
            message = _failure(path, err)
            with self.lock:
                self.facts[path] = (key, message)
            raise SeqgenError(message) from None
        with self.lock:
            self.facts[path] = (key, run.info)
            self.models[path] = (key, run)
            while len(self.models) > MAX_MODELS:
                self.models.popitem(last=False)
        return run


def _holds_checkpoint(folder: Path) -> bool:
    """Whether ``folder`` is a run folder; one that cannot be looked into counts, so that the
    listing shows why."""
    try:
        return folder.is_dir() and any((folder / n).is_file() for n in CHECKPOINT_FILES)
    except OSError:
        return True


def _failure(path: Path, err: Exception) -> str:
    """What a run's error row says about ``err``; an error that is not a ``SeqgenError`` is a
    surprise (a bug, or damage nothing checks for yet), so it is logged with its traceback."""
    if isinstance(err, SeqgenError):
        return str(err)
    log.error("cannot load %s", path, exc_info=err)
    return f"cannot load {path}: {type(err).__name__}: {str(err)[:200]} (see the server's log)"


def _checkpoint(folder: Path) -> tuple[Path, tuple[int, int]]:
    """The run's checkpoint file and its (mtime, size), the key its cache entries are valid for."""
    try:
        path = resolve_checkpoint(folder)
        stat = path.stat()
    except OSError as err:  # removed since the folder was listed, or a folder that cannot be read
        raise SeqgenError(f"cannot read {err.filename or folder}: {err.strerror or err}") from None
    return path, (stat.st_mtime_ns, stat.st_size)


def _val_history(folder: Path) -> dict[str, Any]:
    """How many points the run's loss curve has (a short run's is one dot, and the page says so):
    ``curve_points`` in its longer series (train or val), ``val_points``; and the best validation
    bits per character (text) or nats per quarter note (music), when the run logged them."""
    from seqgen.run_dir import read_metrics

    rows = read_metrics(folder / "metrics.jsonl")
    val = [r for r in rows if "val_loss" in r]
    points = max(len(val), sum("train_loss" in r for r in rows))
    def best(key: str) -> float | None:
        found = [r[key] for r in val if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        return round(min(found), 4) if found else None

    return {"curve_points": points, "val_points": len(val), "few_points": points < MIN_CURVE_POINTS,
            "bits_per_char": best("val_bpc"), "nats_per_quarter": best("val_npq")}


def _build(name: str, folder: Path, path: Path, modified: float) -> Run:
    """Load the checkpoint at ``path``; its facts must be JSON a response can carry (a crafted file
    can put a tensor where the step count belongs)."""
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
        "step": ckpt.step, "modified": modified, "loss_curve": f"/api/runs/{name}/loss.png",
        "barely_trained": ckpt.step < BARELY_TRAINED, **_val_history(folder),
    }
    json.dumps(info, allow_nan=False, ensure_ascii=False).encode("utf-8")  # raises for what JSON cannot hold
    return Run(info, folder, model, tokenizer, config)
