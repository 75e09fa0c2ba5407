"""The sampler: how the next id is drawn, and the stateful generation loop."""

from __future__ import annotations

import math

import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.sampler import SamplingSettings, choose, draw, generate, threads_for

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


def test_draw_only_picks_ids_that_can_come_up() -> None:
    """One finite logit anywhere in the row (the first, the last, between): always that id, over
    many draws."""
    g = torch.Generator().manual_seed(0)
    for only in (0, 7, 64):
        logits = torch.full((5000, 65), float("-inf"))
        logits[:, only] = 0.0
        assert set(draw(logits, g).tolist()) == {only}
    tiny = torch.tensor([[0.0, -200.0, -200.0]]).expand(20000, -1)  # total rounds to exactly 1
    assert set(draw(tiny, g).tolist()) == {0}


def test_draw_follows_the_distribution_for_many_rows_at_once() -> None:
    g = torch.Generator().manual_seed(2)
    counts = torch.bincount(draw(PROBS.log().expand(40000, -1), g), minlength=4) / 40000
    torch.testing.assert_close(counts, PROBS[0], atol=0.01, rtol=0)


@pytest.mark.parametrize("streams, busy, threads", [(1, 0.0, 1), (15, 0.0, 1), (16, 0.0, 2), (64, 1.2, 1)])
def test_many_streams_take_the_cores_other_work_leaves(monkeypatch: pytest.MonkeyPatch, streams: int, busy: float,
                                                       threads: int) -> None:
    monkeypatch.setattr("seqgen.device.usable_cores", lambda: 2)
    monkeypatch.setattr("seqgen.device.others_load", lambda own_threads=0: busy)
    assert threads_for(streams) == threads
