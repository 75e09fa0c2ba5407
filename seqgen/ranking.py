"""Curated samples: score every sample of a batch and keep the best few (``--keep``/``--rank``).

Each sample gets two scores:

- likelihood: the mean -log p, in nats per token, that the model gives the sample's generated
  tokens, teacher-forced from the state the sample started in (so the temperature it was drawn at
  does not matter). Text: the tokens after the seed; music: the whole piece as written. Lower is
  likelier.
- novelty: the longest stretch of the sample copied from the training split (``seqgen.novelty``):
  characters of text after the seed, or notes of a melodic-interval run for music. Lower is newer.

``likelihood`` keeps the likeliest samples, ``novelty`` the least copied (ties: likelier first),
and ``balanced`` adds each sample's place in the two orders (a Borda count: the likeliest and the
least copied both get place 0) and keeps the lowest sums, so neither unit outweighs the other;
ties go to the likelier sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from seqgen.config import DataConfig
from seqgen.scoring import token_nll
from seqgen.generate import SampleRequest, start_ids
from seqgen.model import LanguageModel
from seqgen.novelty import NoveltyIndex, novelty_index
from seqgen.tokenizer import Tokenizer


@dataclass(frozen=True)
class SampleScore:
    """What one sample scored: ``index`` among the samples drawn (0-based), ``nll`` in nats per
    token, ``copied`` the longest copy from the training split in ``unit`` (None: not measured)."""

    index: int
    nll: float
    copied: int | None = None
    unit: str = ""

    def describe(self) -> str:
        """For a person: ``1.523 nats/token, longest copy from train 17 chars``."""
        copied = f", longest copy from train {self.copied} {self.unit}" if self.copied is not None else ""
        return f"{self.nll:.3f} nats/token{copied}"

    def to_dict(self) -> dict[str, Any]:
        """For JSON: an unscored sample's infinite NLL becomes null."""
        return {"sample": self.index, "nll": self.nll if math.isfinite(self.nll) else None,
                "copied": self.copied, "unit": self.unit}


def _mean_nll(model: LanguageModel, prefix: list[int], ids: list[int]) -> float:
    """Mean -log p of ``ids`` following ``prefix`` (infinite when there is nothing to score)."""
    if not ids:
        return math.inf
    return float(token_nll(model, prefix + ids)[len(prefix) - 1:].mean(dtype="float64"))


def score_samples(model: LanguageModel, tokenizer: Tokenizer, samples: Sequence[Any], request: SampleRequest,
                  novelty: NoveltyIndex | None = None) -> list[SampleScore]:
    """Each sample's likelihood and, with a ``novelty`` index, its longest copy from training."""
    scores = []
    for index, sample in enumerate(samples):
        if tokenizer.domain == "text":
            generated = sample[len(request.seed):]
            nll = _mean_nll(model, start_ids(tokenizer, request.seed), tokenizer.encode(generated))
        else:
            ids = tokenizer.encode(sample, end=False)
            generated, nll = sample, _mean_nll(model, ids[:1], ids[1:])
        copied = novelty.longest(generated) if novelty else None
        scores.append(SampleScore(index, nll, copied, novelty.unit if novelty else ""))
    return scores


def _places(scores: Sequence[SampleScore], key: Callable[[SampleScore], Any]) -> dict[int, int]:
    """Each sample's place in the order by ``key``; equal keys share the best place."""
    ordered = sorted(scores, key=key)
    places: dict[int, int] = {}
    for place, score in enumerate(ordered):
        same = place > 0 and key(score) == key(ordered[place - 1])
        places[score.index] = places[ordered[place - 1].index] if same else place
    return places


def rank_scores(scores: Sequence[SampleScore], keep: int, rank: str) -> list[SampleScore]:
    """The best ``keep`` scores, best first, by ``rank`` (see the module's docstring)."""
    if rank == "likelihood":
        order = sorted(scores, key=lambda s: s.nll)
    elif rank == "novelty":
        order = sorted(scores, key=lambda s: (s.copied, s.nll))
    else:
        by_nll, by_copy = _places(scores, lambda s: s.nll), _places(scores, lambda s: s.copied)
        order = sorted(scores, key=lambda s: (by_nll[s.index] + by_copy[s.index], s.nll))
    return order[:keep]


def curate(model: LanguageModel, tokenizer: Tokenizer, samples: Sequence[Any], request: SampleRequest,
           data: DataConfig) -> list[tuple[Any, SampleScore]]:
    """The ``request.keep`` best samples and their scores, best first, by ``request.rank``
    (which must be set). ``data``, the checkpoint's data settings, names the training split that
    novelty is measured against; its index is built only when the rank needs it."""
    if request.keep is None or request.rank is None:
        raise ValueError("curate() needs a request with keep and rank")
    novelty = novelty_index(data) if request.rank != "likelihood" else None
    best = rank_scores(score_samples(model, tokenizer, samples, request, novelty), request.keep, request.rank)
    return [(samples[s.index], s) for s in best]
