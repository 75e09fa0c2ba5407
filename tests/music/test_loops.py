"""Loops: N bars exactly, chosen by how well their ending leads back into bar 1."""

from __future__ import annotations

import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.errors import SeqgenError
from seqgen.scoring import token_nll
from seqgen.generate import SampleRequest, sample_music
from seqgen.model import LanguageModel
from seqgen.music.grid import GridTokenizer
from seqgen.music.loops import CANDIDATES_PER_LOOP, closure_cost
from seqgen.music.score import Note, Piece, Track
from seqgen.sampler import SamplingSettings

#: A four-bar riff, one whole note a bar: C, E, G, B.
RIFF = [60, 64, 67, 71]


def riff(bars: list[int], times: int = 1) -> Piece:
    """The bars of ``RIFF`` given by index, ``times`` over, on one 4/4 piano track."""
    notes = [Note(RIFF[b], 4.0 * i, 4.0, 80) for i, b in enumerate(bars * times)]
    return Piece([Track("Piano", 0, False, notes)], tempo_qpm=120.0, time_signature=(4, 4))


@pytest.fixture(scope="module")
def untrained() -> tuple[LanguageModel, GridTokenizer]:
    torch.manual_seed(0)
    codec = GridTokenizer.fit([riff([0, 1, 2, 3], 2)])
    return LanguageModel(ModelConfig(layers=1, hidden=16, embed=8, dropout=0, vocab_size=codec.vocab_size)).eval(), codec


def test_closure_cost_is_the_nll_of_bar_one_played_after_the_last(untrained: tuple[LanguageModel, GridTokenizer]) -> None:
    model, codec = untrained
    for bars in ([0, 1, 2, 3], [0, 1, 2, 2], [1, 2, 3, 3]):
        once = codec.encode(riff(bars), end=False)
        looped = codec.encode(riff(bars + bars[:1]), end=False)  # the loop and its first bar again
        assert looped[:len(once)] == once
        expected = float(token_nll(model, looped)[len(once) - 1:].sum())
        assert closure_cost(model, codec, riff(bars), 4) == pytest.approx(expected, rel=1e-5)
    silent_start = Piece([Track("Piano", 0, False, [Note(60, 4.0, 4.0)])])
    assert closure_cost(model, codec, silent_start, 2) == float("inf")


def test_loop_keeps_the_best_of_more_candidates_each_exactly_n_bars(
        untrained: tuple[LanguageModel, GridTokenizer]) -> None:
    model, codec = untrained
    hot = SamplingSettings(temperature=2.0)
    keep, bars = 2, 4
    loops = sample_music(model, codec, SampleRequest(bars=bars, num_samples=keep, loop=True, random_seed=7,
                                                     settings=hot))
    candidates = sample_music(model, codec, SampleRequest(bars=bars, num_samples=keep * CANDIDATES_PER_LOOP,
                                                          random_seed=7, settings=hot))
    costs = sorted(closure_cost(model, codec, p, bars) for p in candidates)
    assert [closure_cost(model, codec, p, bars) for p in loops] == pytest.approx(costs[:keep])
    for piece in loops:
        assert piece.end == pytest.approx(bars * 4.0)
    for bad in (dict(bars=2.5), dict(seconds=4.0), dict(length=100)):
        with pytest.raises(SeqgenError, match="loop"):
            SampleRequest(loop=True, **bad)
