"""Held-out numbers: val and test loss of the cpu preset and the automatic choice over several seeds.

Tuning used the val split only; this group reports the test split beside it, on tiny-shakespeare
split 90/5/5 (the project's default split), with the spread over ``SEEDS`` (one seed with --quick).
"""

from __future__ import annotations

import statistics

from benchmarks.budget import train_budgeted
from benchmarks.common import Options, Row

SEEDS = (1337, 1338, 1339)


def _spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{mean:.4f}"


def rows(options: Options) -> list[Row]:
    from seqgen.config import DataConfig

    split = DataConfig(corpus="tinyshakespeare", val_frac=0.05, test_frac=0.05)
    seeds = SEEDS[:1] if options.quick else SEEDS
    out = []
    for name, preset in (("preset cpu", "cpu"), ("auto (no preset)", None)):
        runs = [train_budgeted(options, split, preset, seed) for seed in seeds]
        out.append(Row("held-out loss", f"{name}, 90/5/5 split, {options.budget:g} s, seeds {', '.join(map(str, seeds))}",
                       f"test {_spread([r.test for r in runs if r.test is not None])} nats/char",
                       f"val {_spread([r.val for r in runs])}"))
    return out
