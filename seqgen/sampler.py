"""Stateful sampling: prime once with the seed, then one token per step, many samples as a batch.

``choose`` draws the next ids under temperature, top-k and top-p; ``generate`` runs the model's
single-step path (``LanguageModel.stepper``) from a seed, never re-running the prefix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import torch
from torch import Tensor

from seqgen.cuda_step import on_device, sampling_device
from seqgen.device import fair_threads
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel


@dataclass
class SamplingSettings:
    """How the next token is drawn from the model's distribution."""

    temperature: float = 1.0  # 0 = greedy argmax
    top_k: int = 0  # 0 = no limit
    top_p: float = 1.0  # nucleus: smallest set of tokens whose probability reaches top_p

    #: Below this, dividing float32 logits by the temperature overflows; it is greedy in all but name.
    MIN_TEMPERATURE: ClassVar[float] = 1e-3

    def __post_init__(self) -> None:
        """Refuse impossible settings when they are made, so every caller is checked once."""
        t = self.temperature
        if not (t == 0 or self.MIN_TEMPERATURE <= t < float("inf")):  # also refuses NaN
            raise SeqgenError(f"temperature must be 0 (greedy) or a number from {self.MIN_TEMPERATURE:g} up, got {t}")
        if self.top_k < 0:
            raise SeqgenError(f"top-k must be >= 0 (0 = no limit), got {self.top_k}")
        if not (0 < self.top_p <= 1):
            raise SeqgenError(f"top-p must be in (0, 1], got {self.top_p}")


def choose(logits: Tensor, settings: SamplingSettings, generator: torch.Generator | None) -> Tensor:
    """Draw one id per row of ``logits`` (batch, vocab) under temperature, top-k and top-p."""
    if settings.temperature == 0:
        return logits.argmax(dim=-1)
    if settings.temperature != 1:
        logits = logits / settings.temperature
    if 0 < settings.top_k < logits.shape[-1]:
        kth = torch.topk(logits, settings.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if settings.top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens ranked above it already reach top_p (the first always stays).
        drop = cumulative - sorted_logits.softmax(dim=-1) >= settings.top_p
        drop[:, 0] = False  # even a top_p that rounds to 0 in float32 keeps the likeliest token
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return draw(logits, generator)


def draw(logits: Tensor, generator: torch.Generator | None) -> Tensor:
    """One id per row, with probability softmax(logits): the exponential race, argmax of p / E
    with E ~ Exp(1) drawn per id (the smallest E / p, an Exp(p) variable, wins with chance p).

    Faster than ``torch.multinomial`` for one 65-token row and for many rows
    (benchmarks/sampling.py). An id of probability 0 (masked with -inf) scores 0 and can never
    win, even where E comes out as 0 (clamped, so no 0 / 0). An inverse-CDF draw was faster still
    but not safe: torch's vectorised cumsum need not stay exactly flat across zeros, and a masked
    token came up in the music grammar's test (over 10,000 constrained draws)."""
    probs = logits.softmax(dim=-1)
    race = torch.empty_like(probs).exponential_(generator=generator).clamp_min_(torch.finfo(probs.dtype).tiny)
    return probs.div_(race).argmax(dim=-1)


class Constraint(Protocol):
    """What may be drawn next, per sample (e.g. ``seqgen.music.grammar.GridGrammar``)."""

    def allowed(self, sample_index: int) -> Tensor:
        """A (vocab,) boolean mask of the ids sample ``sample_index`` may draw next."""

    def advance(self, sample_index: int, token: int) -> None:
        """Sample ``sample_index`` drew ``token``."""


#: Fewer streams than this sample fastest on one thread (see ``threads_for``).
FEW_STREAMS = 16


def threads_for(streams: int) -> int:
    """The torch thread count that samples ``streams`` streams fastest on a CPU. A few streams get
    one thread: a step is latency-bound, its ops are too small to split, and splitting them stalls
    every op whenever another core is busy (measured in benchmarks/sampling.py). More streams get
    the cores other work leaves free (``seqgen.device.fair_threads``), as training does."""
    return 1 if streams < FEW_STREAMS else fair_threads()


@torch.inference_mode()
def generate(model: LanguageModel, seed: Sequence[int], length: int, settings: SamplingSettings,
             num_samples: int = 1, generator: torch.Generator | None = None,
             banned: Sequence[int] = (), constraint: Constraint | None = None,
             compact: bool = True, device: str = "cpu") -> Iterator[Tensor]:
    """Yield ``length`` steps of new ids, each a (num_samples,) tensor, continuing ``seed``.

    The seed is fed once; the state is then copied to every sample and advanced one token at a
    time, never re-running the prefix. The model is left as it is (weights are copied out).
    ``banned`` ids (e.g. a tokenizer's "unknown" symbol) are never drawn.

    A ``constraint`` (it must already have seen the seed) masks, at every step and for every
    sample, the ids its ``allowed`` refuses, and is told each drawn id with ``advance``. If it has
    a ``done(sample_index)`` method, generation stops early once every sample is done. Without
    one, a step runs no per-sample Python.

    ``compact`` (the default) lets a few streams step with int8 weights (``seqgen.compact``):
    about 1.5x faster for one stream, with logits within about 1e-3 of float32's (the benchmark
    reports the KL divergence); ``compact=False`` is the exact float32 step.

    ``device`` is a name for ``seqgen.cuda_step.sampling_device`` (``auto``: a GPU for wide
    models). On a GPU the draws use a GPU generator seeded from ``generator``. On the CPU,
    torch's thread count is left alone: the count is process-global, so only a caller that owns
    the process may choose it, with ``threads_for`` (the CLI's ``sample`` does; the server, with
    requests running side by side, does not).
    """
    if not seed:
        raise ValueError("generate() needs at least one seed token to start from")
    where = sampling_device(device, model.config.hidden)
    step = model.stepper(compact, where)
    state = model.init_state(1, where)
    for token in seed:  # prime: the same single-step code path, batch of one
        logits, state = step(torch.tensor([token], device=where), state)
    state = tuple(s.expand(-1, num_samples, -1).contiguous() for s in state)
    logits = logits.expand(num_samples, -1)
    generator = on_device(generator, where)
    ban = torch.zeros(logits.shape[-1], device=where)
    ban[list(banned)] = float("-inf")
    if constraint is None:
        for _ in range(length):
            tokens = choose(logits + ban if banned else logits, settings, generator)
            yield tokens
            logits, state = step(tokens, state)
        return
    done = getattr(constraint, "done", None)
    samples = range(num_samples)
    for _ in range(length):
        if done is not None and all(done(i) for i in samples):
            return
        allowed = torch.stack([constraint.allowed(i) for i in samples]).to(where)
        tokens = choose((logits + ban if banned else logits).masked_fill(~allowed, float("-inf")), settings, generator)
        for i, token in enumerate(tokens.tolist()):
            constraint.advance(i, token)
        yield tokens
        logits, state = step(tokens, state)
