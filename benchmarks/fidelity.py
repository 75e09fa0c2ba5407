"""How faithful the compact (int8) sampling step is: KL divergence of its next-token distribution
from float32's, step by step along one sampled text.

A random-weight model has flat, low-magnitude logits that any rounding leaves alone, so the
comparison uses a model trained for a short while on tiny-shakespeare (sharper distributions,
larger weights); without the corpus it falls back to the random model and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from benchmarks.common import Skip, token_data

if TYPE_CHECKING:
    from seqgen.model import LanguageModel


def trained(model: LanguageModel, steps: int, batch: int = 32, seq: int = 64) -> str:
    """Train ``model`` in place for ``steps`` Adam steps on tiny-shakespeare's train split
    (random windows); returns what was done, for the table."""
    try:
        tokens = torch.from_numpy(token_data().arrays["train"].astype("int64"))
    except Skip:
        return "random weights (tiny-shakespeare not found)"
    vocab = model.config.vocab_size
    tokens = tokens.clamp_max(vocab - 1)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=4e-3)
    model.train()
    for _ in range(steps):
        starts = torch.randint(0, len(tokens) - seq - 1, (batch, 1), generator=generator)
        window = tokens[starts + torch.arange(seq + 1)]
        logits, _ = model(window[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), window[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return f"trained {steps} steps on tiny-shakespeare (last train loss {loss.item():.2f} nats/char)"


@torch.inference_mode()
def compact_kl(model: LanguageModel, steps: int) -> tuple[float, float, float]:
    """Mean and max KL(float32 || compact) in nats over ``steps`` steps of one stream, and the share
    of steps whose likeliest token agrees. Both steppers read the same tokens (drawn from the
    float32 distribution at temperature 1), each keeping its own state, as a sampler would."""
    from seqgen.sampler import draw

    exact, compact = model.stepper(), model.stepper(compact=True)
    state_a = state_b = tuple(torch.zeros(model.config.layers, 1, model.config.hidden) for _ in model.init_state(1))
    generator = torch.Generator().manual_seed(0)
    token, kls, agree = torch.tensor([0]), [], 0
    for _ in range(steps):
        logits_a, state_a = exact(token, state_a)
        logits_b, state_b = compact(token, state_b)
        log_a, log_b = logits_a.log_softmax(-1), logits_b.log_softmax(-1)
        kls.append(float((log_a.exp() * (log_a - log_b)).sum()))
        agree += int(logits_a.argmax() == logits_b.argmax())
        token = draw(logits_a, generator)
    return sum(kls) / steps, max(kls), agree / steps
