"""TensorBoard logging of a run's metrics (``seqgen train --tensorboard``), an optional extra.

The run's metrics.jsonl stays the record; this mirrors each row into a TensorBoard event file in
the run directory, for people who watch runs there (``tensorboard --logdir checkpoints``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqgen.errors import SeqgenError

#: Metric row keys -> TensorBoard tags (grouped so train and val loss share a chart section).
TAGS = {"train_loss": "loss/train", "val_loss": "loss/val", "val_bpc": "bits_per_char/val",
        "val_npq": "nats_per_quarter/val", "lr": "lr",
        "steps_per_s": "speed/steps_per_s"}


class Board:
    """A SummaryWriter on ``folder`` that takes the trainer's metric rows."""

    def __init__(self, folder: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch raises it when the tensorboard package is absent
            raise SeqgenError("--tensorboard needs the tensorboard package: pip install 'seqgen[tensorboard]'") from None
        self.writer = SummaryWriter(log_dir=str(folder))

    def log(self, row: dict[str, Any]) -> None:
        """Every number of a metrics row but its step and time, at its step."""
        for key, value in row.items():
            if key not in ("step", "time"):
                self.writer.add_scalar(TAGS.get(key, key), value, row["step"])

    def close(self) -> None:
        self.writer.close()
