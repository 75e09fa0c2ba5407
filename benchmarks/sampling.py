"""Sampling speed: seqgen's stateful generator for 1 and 64 streams, and the naive loop (target 3).

Random weights are fine: the arithmetic per token does not depend on what the model learned.
The naive reference calls the model's nn.LSTM once per token, which is what most hand-written
samplers do and what seqgen's ``Stepper`` exists to beat (per-call framework overhead).
Each measurement is the best of a few repeats, the usual way to read a microbenchmark on a
machine that other work may share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from benchmarks.common import Options, Row, rate, timed

if TYPE_CHECKING:
    from seqgen.model import LanguageModel

LAYERS, HIDDEN, EMBED, VOCAB = 2, 256, 128, 65
TARGET_ONE, TARGET_MANY, MANY = 6_000, 60_000, 64


def make_model(cell: str = "lstm") -> LanguageModel:
    from seqgen.config import ModelConfig
    from seqgen.model import LanguageModel

    torch.manual_seed(0)
    config = ModelConfig(cell=cell, layers=LAYERS, hidden=HIDDEN, embed=EMBED, dropout=0.0, vocab_size=VOCAB)
    return LanguageModel(config).eval()


def seqgen_rate(model: LanguageModel, length: int, streams: int, repeats: int) -> float:
    """Best tokens/s (all streams together) of ``seqgen.sampler.generate``, seed of one token, with
    the thread count ``seqgen sample`` would choose for that many streams."""
    from seqgen.sampler import SamplingSettings, generate, threads_for

    def run() -> None:
        for _ in generate(model, [0], length, SamplingSettings(), streams, torch.Generator().manual_seed(0)):
            pass

    threads = torch.get_num_threads()
    torch.set_num_threads(threads_for(streams))
    try:
        run()  # warm-up: first-call allocations and lazy initialisation
        return max(length * streams / timed(run) for _ in range(repeats))
    finally:
        torch.set_num_threads(threads)


@torch.inference_mode()
def naive_rate(model: LanguageModel, length: int, repeats: int) -> float:
    """Best tokens/s of feeding one token at a time through the full module (nn.LSTM per token)."""
    generator = torch.Generator().manual_seed(0)

    def run() -> None:
        x, state = torch.zeros(1, 1, dtype=torch.int64), None
        for _ in range(length):
            logits, state = model(x, state)
            x = torch.multinomial(logits[:, -1].softmax(-1), 1, generator=generator)

    run()
    return max(length / timed(run) for _ in range(repeats))


def rows(options: Options) -> list[Row]:
    one, many, single, repeats = (100, 20, 50, 1) if options.quick else (3000, 400, 1000, 3)
    model = make_model()
    threads = torch.get_num_threads()
    size = (f"lstm {LAYERS}x{HIDDEN}, embed {EMBED}, vocab {VOCAB}, temperature 1, threads as seqgen sample "
            f"sets them (1 below 16 streams, else {threads})")
    one_rate = seqgen_rate(model, one, 1, repeats)
    many_rate = seqgen_rate(model, many, MANY, repeats)
    naive = naive_rate(model, single, repeats)
    best = f"best of {repeats}"
    out = [
        Row("sampling", f"seqgen generate, 1 stream x {one} tokens; {size}; {best}", rate(one_rate),
            f"target >= {TARGET_ONE:,}", f"{one_rate / TARGET_ONE:.2f}"),
        Row("sampling", f"seqgen generate, {MANY} streams x {many} tokens (aggregate); {best}", rate(many_rate),
            f"target >= {TARGET_MANY:,}", f"{many_rate / TARGET_MANY:.2f}"),
        Row("sampling", f"naive: nn.LSTM called once per token, 1 stream x {single} tokens; {best}", rate(naive),
            "issue: ~700 tok/s", f"seqgen 1 stream is {one_rate / naive:.1f}x this"),
    ]
    if threads > 1:
        # Per-token ops are tiny: splitting them over threads can cost more than it saves, and
        # one busy core elsewhere stalls every op that waits for its second thread. Measuring
        # both tells whether the sampler should pin itself to one thread.
        torch.set_num_threads(1)
        try:
            for streams, length, target in ((1, one, TARGET_ONE), (MANY, many, TARGET_MANY)):
                single_rate = seqgen_rate(model, length, streams, repeats)
                out.append(Row("sampling", f"seqgen generate, {streams} stream{'s' * (streams > 1)} x {length} "
                               f"tokens with 1 torch thread; {best}", rate(single_rate),
                               f"target >= {target:,}", f"{single_rate / target:.2f}"))
        finally:
            torch.set_num_threads(threads)
    gru_rate = seqgen_rate(make_model("gru"), one, 1, repeats)
    out.append(Row("sampling", f"seqgen generate, 1 stream x {one} tokens, gru {LAYERS}x{HIDDEN} (the cpu preset's "
                   f"cell); {best}", rate(gru_rate), f"target >= {TARGET_ONE:,}", f"{gru_rate / TARGET_ONE:.2f}"))
    return out
