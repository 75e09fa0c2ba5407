"""Scoring: negative log-likelihood of token ids under a model, statefully, over whole splits or one
sequence. Lower in the chain than evaluation and sampling, which both score (eval's splits; loops,
ranking and the page's shading score samples)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from seqgen.batches import eval_streams
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
