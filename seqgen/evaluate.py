"""Evaluation: total negative log-likelihood over a whole split, statefully; what ``seqgen eval`` reports.

The split is cut into a few contiguous streams that are run from a zero state to their end with
the state carried throughout, so (nearly) every token is predicted with its full left context and
every token is counted exactly once. Loss is reported per token and per unit (bits per character
for text; nats per note, quarter note, beat of the time signature and second for music) so that
tokenizations compare fairly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqgen.batches import eval_streams
from seqgen.checkpoint import Checkpoint
from seqgen.dataset import prepare_matching
from seqgen.device import pick_device, use_bf16
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel

CHUNK = 256  # time steps per forward call: bounds memory, the state carries across chunks


@torch.no_grad()
def _chunk_nlls(model: LanguageModel, tokens: np.ndarray, streams: int, device: torch.device | str,
                autocast: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(-log p of each target, mask of real targets), chunk by chunk, each row run from a zero state
    with its state carried across chunks (see ``eval_streams``)."""
    was_training = model.training
    model.eval()
    state = None
    try:
        for x, y, mask in eval_streams(tokens, streams, CHUNK):
            x, y, mask = x.to(device), y.to(device), mask.to(device)
            with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
                logits, state = model(x, state)
            state = tuple(s.float() for s in state)
            yield F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none"), mask
    finally:
        model.train(was_training)


def total_nll(model: LanguageModel, tokens: np.ndarray, streams: int = 16,
              device: torch.device | str = "cpu", autocast: bool = False) -> tuple[float, int]:
    """(sum of -log p over all predicted tokens in nats, number of predicted tokens)."""
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for nll, mask in _chunk_nlls(model, tokens, streams, device, autocast):
        count += int(mask.sum())
        total += (nll * mask).sum(dtype=torch.float64)
    return total.item(), count


def token_nll(model: LanguageModel, ids: Sequence[int]) -> np.ndarray:
    """-log p, in nats, of each token after the first given all before it, from a fresh state.

    What the model thought of each token of a text or a sample, e.g. to shade it or to rank
    samples; entry i belongs to token i + 1. Teacher-forced, so it is the model's own distribution
    whatever temperature the tokens were sampled at."""
    tokens = np.asarray(ids, dtype=np.int64)
    return torch.cat([nll[0] for nll, _mask in _chunk_nlls(model, tokens, 1, "cpu", False)]).numpy()


def report(split: str, nll: float, tokens: int, units: dict[str, float]) -> dict[str, Any]:
    """The metrics ``seqgen eval`` prints: per token, plus per character/note/quarter/beat/second.

    Units are spread over predicted tokens pro rata (the first token of a split has no
    prediction), which makes bits per character exact for the char tokenizer.
    """
    per_token = nll / tokens
    out: dict[str, Any] = {
        "split": split,
        "tokens": tokens,
        "nll": nll,
        "nats_per_token": per_token,
        "perplexity": math.exp(min(per_token, 700.0)),
    }
    share = tokens / (tokens + 1)
    for unit, amount in units.items():
        out[unit] = amount
        if amount:
            per_unit = nll / (amount * share)
            singular = unit[:-1]  # chars -> char, quarters -> quarter, ...
            out[f"nats_per_{singular}"] = per_unit
            if unit == "chars":
                out["bits_per_char"] = per_unit / math.log(2)
    return out


def evaluate_checkpoint(spec: str | Path | None, split: str = "val", device: str = "auto",
                        samples: int = 8, bars: float = 0.0, random_seed: int = 0) -> dict[str, Any]:
    """Load a checkpoint, score it on a whole split of its own corpus and report (see ``report``).

    For music, ``samples`` pieces of ``bars`` bars (0: ``seqgen sample``'s default length) are
    generated (``random_seed`` fixes them) and
    their statistics set beside those of the split's pieces cut to the same length, voices judged
    against the train split's (``sample_stats``: ``{"samples": {...}, "reference": {...}}``).
    """
    ckpt = Checkpoint.load(spec)
    model, tokenizer, config = ckpt.build()
    data = prepare_matching(config.data, ckpt.tokenizer)
    tokens = data.arrays[split]
    if len(tokens) < 2:
        raise SeqgenError(f"the {split} split is empty for this checkpoint's settings")
    dev = pick_device(device)
    nll, count = total_nll(model.to(dev), tokens, config.train.eval_streams, dev, use_bf16(config.train.precision, dev))
    result = report(split, nll, count, data.units[split])
    if tokenizer.domain == "music" and samples > 0:
        from seqgen.corpus import load_corpus
        from seqgen.generate import DEFAULT_BARS, SampleRequest, sample_music
        from seqgen.music.stats import compare
        from seqgen.music.theory import VoiceProfile

        bars = bars or DEFAULT_BARS
        request = SampleRequest(num_samples=samples, random_seed=random_seed, bars=bars)
        generated = sample_music(model.cpu(), tokenizer, request)
        splits = load_corpus(config.data.corpus, config.data.encoding).splits(config.data.val_frac, config.data.test_frac)
        result["sample_stats"] = compare(generated, splits[split], VoiceProfile.of(splits["train"]), bars)
    return result
