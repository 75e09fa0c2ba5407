"""Held-out numbers: val and test loss of the cpu preset and the automatic choice over several seeds.

Tuning used the val split only; this group reports the test split beside it, with the project's
default splits (text: 90/5/5 by position; music: 5% of the pieces each for val and test), on
tiny-shakespeare, the full 38 plays and the bach chorales, with the spread over ``SEEDS`` (one seed
and tiny-shakespeare alone with --quick). Losses are nats per token: per character for text.
"""

from __future__ import annotations

import statistics

from benchmarks.budget import train_budgeted
from benchmarks.common import Options, Row

SEEDS = (1337, 1338, 1339)
CORPORA = ("tinyshakespeare", "shakespeare", "bach")


def _spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{mean:.4f}"


def rows(options: Options) -> list[Row]:
    from seqgen.config import DataConfig

    seeds = SEEDS[:1] if options.quick else SEEDS
    out = []
    for corpus in CORPORA[:1] if options.quick else CORPORA:
        split = DataConfig(corpus=corpus, val_frac=0.05, test_frac=0.05)
        for name, preset in (("preset cpu", "cpu"), ("auto (no preset)", None)):
            runs = [train_budgeted(options, split, preset, seed) for seed in seeds]
            m = runs[0].config.model
            out.append(Row("held-out loss", f"{corpus}, {name} ({m.cell} {m.layers}x{m.hidden}), default split, "
                           f"{options.budget:g} s, seeds {', '.join(map(str, seeds))}",
                           f"test {_spread([r.test for r in runs if r.test is not None])} nats/token",
                           f"val {_spread([r.val for r in runs])}"))
    return out
