"""Sampling speed: seqgen's stateful generator for 1 and 64 streams, compact (int8) and float32
steps, the sampler as it was before the compact step, and the naive loop (target 3).

Random weights are fine for speed: the arithmetic per token does not depend on what the model
learned (the fidelity row trains one briefly, see benchmarks/fidelity.py). The naive reference
calls the model's nn.LSTM once per token, which is what most hand-written samplers do and what
seqgen's ``Stepper`` exists to beat (per-call framework overhead). Rows that are compared run in
turn, round after round, and each keeps its best round: on a machine other work may share, a
slow spell then hits each of them rather than one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from benchmarks.common import Options, Row, rate, timed
from benchmarks.fidelity import compact_kl, trained

if TYPE_CHECKING:
    from seqgen.model import LanguageModel

LAYERS, HIDDEN, EMBED, VOCAB = 2, 256, 128, 65
TARGET_ONE, TARGET_MANY, MANY = 6_000, 60_000, 64
#: Issue 14: one stream at least this many times the float32 sampler before the compact step.
TARGET_SPEEDUP, TARGET_KL = 1.5, 1e-3


def make_model(cell: str = "lstm") -> LanguageModel:
    from seqgen.config import ModelConfig
    from seqgen.model import LanguageModel

    torch.manual_seed(0)
    config = ModelConfig(cell=cell, layers=LAYERS, hidden=HIDDEN, embed=EMBED, dropout=0.0, vocab_size=VOCAB)
    return LanguageModel(config).eval()


def generate_run(model: LanguageModel, length: int, streams: int, compact: bool = True) -> Callable[[], None]:
    """``seqgen.sampler.generate`` from a one-token seed, drained."""
    from seqgen.sampler import SamplingSettings, generate

    def run() -> None:
        for _ in generate(model, [0], length, SamplingSettings(), streams, torch.Generator().manual_seed(0),
                          compact=compact):
            pass

    return run


def before_run(model: LanguageModel, length: int, streams: int) -> Callable[[], None]:
    """The sampler before the compact step: float32 step, softmax and ``torch.multinomial``."""
    step, generator = model.stepper(), torch.Generator().manual_seed(0)

    @torch.inference_mode()
    def run() -> None:
        state = tuple(torch.zeros(LAYERS, 1, HIDDEN) for _ in range(2))
        logits, state = step(torch.tensor([0]), state)
        state = tuple(s.expand(-1, streams, -1).contiguous() for s in state)
        logits = logits.expand(streams, -1)
        for _ in range(length):
            tokens = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(-1)
            logits, state = step(tokens, state)

    return run


def best_rates(runs: dict[str, tuple[Callable[[], None], int]], repeats: int, threads: int) -> dict[str, float]:
    """Best tokens/s of each ``name -> (run, tokens per run)``, all on ``threads`` torch threads,
    taking turns for ``repeats`` rounds after one warm-up round (first-call allocations)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for run, _ in runs.values():
            run()
        best = dict.fromkeys(runs, 0.0)
        for _ in range(repeats):
            for name, (run, tokens) in runs.items():
                best[name] = max(best[name], tokens / timed(run))
        return best
    finally:
        torch.set_num_threads(before)


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
    from seqgen.sampler import threads_for

    one, many, single, repeats, kl_steps, train_steps = (
        (100, 20, 50, 1, 50, 2) if options.quick else (3000, 400, 1000, 5, 2000, 300))
    model = make_model()
    threads = torch.get_num_threads()
    size = (f"lstm {LAYERS}x{HIDDEN}, embed {EMBED}, vocab {VOCAB}, temperature 1, threads as seqgen sample "
            f"sets them ({threads_for(1)} for 1 stream, {threads_for(MANY)} for {MANY})")
    best = f"best of {repeats}, taking turns"
    solo = best_rates({"compact": (generate_run(model, one, 1), one),
                       "fp32": (generate_run(model, one, 1, compact=False), one),
                       "before": (before_run(model, one, 1), one)}, repeats, threads_for(1))
    total = many * MANY
    crowd = best_rates({"default": (generate_run(model, many, MANY), total),
                        "before": (before_run(model, many, MANY), total)}, repeats, threads_for(MANY))
    naive = naive_rate(model, single, repeats)
    gain = solo["compact"] / solo["before"]
    out = [
        Row("sampling", f"seqgen generate, 1 stream x {one} tokens, compact int8 step (the default); {size}; {best}",
            rate(solo["compact"]), f"target >= {TARGET_SPEEDUP}x the sampler before it (3rd row)", f"{gain:.2f}"),
        Row("sampling", f"seqgen generate(compact=False): float32 step, 1 stream x {one} tokens; {best}",
            rate(solo["fp32"]), "reference", f"compact / this: {solo['compact'] / solo['fp32']:.2f}"),
        Row("sampling", f"before the compact step: float32 step + torch.multinomial, 1 stream x {one} tokens; {best}",
            rate(solo["before"]), f"target >= {TARGET_ONE:,}", f"{solo['before'] / TARGET_ONE:.2f}"),
        Row("sampling", f"seqgen generate, {MANY} streams x {many} tokens (aggregate; float32 step); {best}",
            rate(crowd["default"]), f"target >= {TARGET_MANY:,} and >= the row below",
            f"{crowd['default'] / TARGET_MANY:.2f}; / before: {crowd['default'] / crowd['before']:.2f}"),
        Row("sampling", f"before the compact step, {MANY} streams x {many} tokens (aggregate); {best}",
            rate(crowd["before"]), "reference"),
        Row("sampling", f"naive: nn.LSTM called once per token, 1 stream x {single} tokens; best of {repeats}",
            rate(naive), "issue: ~700 tok/s", f"seqgen 1 stream is {solo['compact'] / naive:.1f}x this"),
    ]
    if threads > 1:
        # Per-token ops are tiny: splitting them over threads can cost more than it saves, and
        # one busy core elsewhere stalls every op that waits for its second thread. Measuring
        # both tells whether the sampler should pin itself to one thread.
        for streams, length, target in ((1, one, TARGET_ONE), (MANY, many, TARGET_MANY)):
            single_rate = best_rates({"one": (generate_run(model, length, streams), length * streams)},
                                     repeats, 1)["one"]
            out.append(Row("sampling", f"seqgen generate, {streams} stream{'s' * (streams > 1)} x {length} "
                           f"tokens with 1 torch thread; {best}", rate(single_rate),
                           f"target >= {target:,}", f"{single_rate / target:.2f}"))
    gru = best_rates({"gru": (generate_run(make_model("gru"), one, 1), one)}, repeats, threads_for(1))["gru"]
    out.append(Row("sampling", f"seqgen generate, 1 stream x {one} tokens, gru {LAYERS}x{HIDDEN} (the cpu preset's "
                   f"cell), compact step; {best}", rate(gru), f"target >= {TARGET_ONE:,}", f"{gru / TARGET_ONE:.2f}"))
    history = trained(model, train_steps)
    mean, worst, agree = compact_kl(model, kl_steps)
    out.append(Row("sampling", f"compact vs float32 step: KL(float32 || compact) per token over {kl_steps} sampled "
                   f"steps, 1 stream, same model {history}", f"{mean:.2e} nats (max {worst:.1e})",
                   f"target < {TARGET_KL:g}; likeliest token agrees on {agree:.1%} of steps",
                   f"{mean / TARGET_KL:.3f}"))
    return out
