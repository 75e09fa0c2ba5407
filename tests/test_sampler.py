"""The sampler: how the next id is drawn, and the stateful generation loop."""

from __future__ import annotations

import math

import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.sampler import SamplingSettings, choose, generate

PROBS = torch.tensor([[0.5, 0.3, 0.15, 0.05]])


def draws(settings: SamplingSettings, n: int = 3000) -> set[int]:
    g = torch.Generator().manual_seed(0)
    logits = PROBS.log().expand(n, -1)
    return set(choose(logits, settings, g).tolist())


def test_greedy_top_k_and_top_p_keep_the_right_tokens() -> None:
    assert draws(SamplingSettings(temperature=0)) == {0}
    assert draws(SamplingSettings(temperature=5, top_k=1)) == {0}
    assert draws(SamplingSettings(top_k=2)) == {0, 1}
    assert draws(SamplingSettings(top_p=0.5)) == {0}  # the first token alone reaches 0.5
    assert draws(SamplingSettings(top_p=0.6)) == {0, 1}
    assert draws(SamplingSettings(top_p=0.96)) == {0, 1, 2, 3}
    assert draws(SamplingSettings()) == {0, 1, 2, 3}
    assert draws(SamplingSettings(top_p=1e-45)) == {0}  # 0 in float32: still the likeliest token


def test_temperature_sharpens_and_flattens() -> None:
    g = torch.Generator().manual_seed(1)
    logits = PROBS.log().expand(20000, -1)
    cold = (choose(logits, SamplingSettings(temperature=0.5), g) == 0).float().mean().item()
    warm = (choose(logits, SamplingSettings(temperature=1.0), g) == 0).float().mean().item()
    assert warm == pytest.approx(0.5, abs=0.02)
    sharpened = 0.25 / (0.25 + 0.09 + 0.0225 + 0.0025)  # p^2, renormalised
    assert cold == pytest.approx(sharpened, abs=0.02)


@pytest.mark.parametrize("settings, message", [
    (dict(temperature=math.nan), "temperature"), (dict(temperature=-1), "temperature"),
    (dict(temperature=math.inf), "temperature"), (dict(temperature=1e-45), "temperature"),
    (dict(temperature=1e-300), "temperature"), (dict(top_k=-1), "top-k"), (dict(top_p=0), "top-p"),
    (dict(top_p=1.5), "top-p"),
])
def test_impossible_settings_are_refused_when_made(settings: dict, message: str) -> None:
    with pytest.raises(SeqgenError, match=message):
        SamplingSettings(**settings)


def small_model() -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(ModelConfig(vocab_size=12, hidden=16, embed=8, layers=2, dropout=0)).eval()


def test_generate_is_reproducible_and_leaves_the_model_alone() -> None:
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    threads = torch.get_num_threads()

    def run(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.stack(list(generate(model, [1, 2, 3], 40, SamplingSettings(), 5, g)))

    first = run(7)
    assert first.shape == (40, 5)
    assert torch.equal(first, run(7)) and not torch.equal(first, run(8))
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert torch.get_num_threads() == threads  # the thread count is restored


def test_generate_continues_the_seed_like_the_model_does() -> None:
    """Greedy generation equals argmax of the model's own forward over seed + generated ids."""
    model = small_model()
    seed = [4, 5, 6]
    ids = [int(t) for t in generate(model, seed, 10, SamplingSettings(temperature=0))]
    with torch.no_grad():
        logits, _ = model(torch.tensor([seed + ids]))
    expected = logits[0, len(seed) - 1: -1].argmax(-1).tolist()
    assert ids == expected


def test_banned_ids_are_never_drawn() -> None:
    model = small_model()
    favourite = int(next(generate(model, [1], 1, SamplingSettings(temperature=0))))
    banned = [favourite, 0, 3]
    g = torch.Generator().manual_seed(0)
    drawn = torch.stack(list(generate(model, [1], 200, SamplingSettings(temperature=3), 16, g, banned)))
    assert not set(drawn.flatten().tolist()) & set(banned)
