"""Loss-curve picture for a run directory (train and val loss against step)."""

from __future__ import annotations

from pathlib import Path

from seqgen.atomic import atomic_path
from seqgen.run_dir import read_metrics


def plot_loss_curve(metrics_file: Path, out: Path) -> None:
    """Draw train and val loss from ``metrics.jsonl`` into ``out`` (PNG); damaged lines are skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = [], []
    for row in read_metrics(metrics_file):
        if "train_loss" in row:
            train.append((row["step"], row["train_loss"]))
        if "val_loss" in row:
            val.append((row["step"], row["val_loss"]))
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for points, label in ((train, "train"), (val, "val")):
        if points:
            ax.plot(*zip(*points), label=label, marker="o" if label == "val" else None, markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
