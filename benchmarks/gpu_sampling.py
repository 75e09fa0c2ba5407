"""Sampling on a GPU (issue 14): ``seqgen.sampler.generate`` on the GPU against the CPU, for a
small and two large LSTMs, 1 and 64 streams, random weights. Skipped without CUDA."""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks.common import Options, Row, Skip, rate
from benchmarks.sampling import best_rates

SIZES = (256, 1024, 2048)  # hidden units of a 2-layer LSTM
LAYERS, EMBED, VOCAB, MANY = 2, 128, 65, 64


def model(hidden: int) -> torch.nn.Module:
    from seqgen.config import ModelConfig
    from seqgen.model import LanguageModel

    torch.manual_seed(0)
    return LanguageModel(ModelConfig(layers=LAYERS, hidden=hidden, embed=EMBED, dropout=0.0,
                                     vocab_size=VOCAB)).eval()


def generate_run(m: torch.nn.Module, length: int, streams: int, device: str) -> Callable[[], None]:
    """``generate`` drained, each step's ids read on the host as every caller does, timed to the
    end of the GPU's work."""
    from seqgen.sampler import SamplingSettings, generate

    def run() -> None:
        for tokens in generate(m, [0], length, SamplingSettings(), streams, torch.Generator().manual_seed(0),
                               device=device):
            tokens.tolist()
        torch.cuda.synchronize()
    return run


def rows(options: Options) -> list[Row]:
    if not torch.cuda.is_available():
        raise Skip("skipped: no CUDA GPU")
    from seqgen.sampler import threads_for

    length, repeats = (50, 1) if options.quick else (1000, 2)
    gpu = torch.cuda.get_device_name()
    out = []
    for hidden in SIZES:
        m = model(hidden)
        for streams in (1, MANY):
            runs = {"gpu": (generate_run(m, length, streams, "cuda"), length * streams),
                    "cpu": (generate_run(m, length, streams, "cpu"), length * streams)}
            best = best_rates(runs, repeats, threads_for(streams))
            what = f"lstm {LAYERS}x{hidden}, {streams} stream{'s' * (streams > 1)} x {length} tokens"
            out += [
                Row("gpu sampling", f"{what}, {gpu} (seqgen generate --device cuda); best of {repeats}",
                    rate(best["gpu"]), "CPU (next row)", f"{best['gpu'] / best['cpu']:.2f}"),
                Row("gpu sampling", f"{what}, CPU ({threads_for(streams)} threads, compact step as seqgen chooses)",
                    rate(best["cpu"]), "reference"),
            ]
    return out
