"""Constrained decoding for the grid codec: an untrained model at temperature 2 draws only tokens
the encoder could have written, ``bars=N`` gives exactly N bars, and ``End`` ends sampling."""

from __future__ import annotations

import re

import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.generate import SampleRequest, sample_music
from seqgen.model import LanguageModel
from seqgen.music.grid import BAR, DUR, END, PIECE, PITCH, POS, TEMPO, TIMESIG, TRACK, VEL, GridTokenizer
from seqgen.music.score import Note, Piece, Track
from seqgen.sampler import SamplingSettings, generate

#: One letter per token kind, and the sequence the encoder writes (GridTokenizer.encode): a
#: header, then bars of [TimeSig] and positions, each with one optional tempo change before its
#: notes ([Track] Pitch [Vel] Dur); a bare Pos (a short bar) only right before a Bar; End after a
#: whole header, note or tempo change.
LETTER = {PIECE: "P", END: "E", BAR: "B", TIMESIG: "S", TEMPO: "T", POS: "O", TRACK: "K", PITCH: "N", VEL: "V",
          DUR: "D"}
NOTE = "K?NV?D"
GROUP = f"O(?:T(?:{NOTE})*|(?:{NOTE})+)"
SEQUENCE = re.compile(f"PST(?:BS?(?:{GROUP})*(?:O(?=B))?)*(?:(?<=[TD])E)?")
PARTIAL_NOTE = re.compile("O?(?:K|KN|KNV|N|NV)?$")  # a position or note cut off by the sampling budget


def pieces() -> list[Piece]:
    """A 3/4 duet and a 4/4 solo that turns to 6/8: three meters, three tracks, a few velocities."""
    lead = [Note(69 + i % 12, i * 1.0, 1.0, 96) for i in range(24)]
    bass = [Note(45 + (3 * i) % 12, i * 3.0, 3.0, 80) for i in range(8)]
    solo = [Note(64 + i % 5, i * 0.5, 0.5, 64) for i in range(32)]
    return [Piece([Track("Lead", 81, False, lead), Track("Bass", 33, False, bass)], tempo_qpm=90.0,
                  time_signature=(3, 4)),
            Piece([Track("Piano", 0, False, solo)], tempo_qpm=120.0, time_signature=(4, 4),
                  time_signature_changes=[(8.0, 6, 8)])]


@pytest.fixture(scope="module")
def codec() -> GridTokenizer:
    return GridTokenizer.fit(pieces())


@pytest.fixture(scope="module")
def model(codec: GridTokenizer) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(ModelConfig(layers=1, hidden=16, embed=8, dropout=0, vocab_size=codec.vocab_size)).eval()


def validate(codec: GridTokenizer, ids: list[int]) -> None:
    """Raise unless ``ids`` is (a prefix cut at a note of) what the encoder writes: its token
    order, and the values replayed by strict decoding (positions rising inside the bar, ...)."""
    letters = "".join(LETTER[codec.kinds[i]] if 0 <= i < codec.vocab_size else "?" for i in ids)
    whole = PARTIAL_NOTE.sub("", letters)
    match = SEQUENCE.match(whole)
    assert match and match.end() == len(whole), f"out of order at token {match.end() if match else 0}: {letters}"
    GridTokenizer.decode(codec, ids, strict=True)
    state = {"track": None, "vel": None, "meter": None}  # Track, Vel and a bar's TimeSig only on change
    for i in ids:
        kind, value = codec.kinds[i], codec.values[i]
        key = {TRACK: "track", VEL: "vel", TIMESIG: "meter"}.get(kind)
        if key:
            assert state[key] != value, f"{codec.names[i]} repeats the one in force"
            state[key] = value


def test_the_encoder_passes_the_validator(codec: GridTokenizer) -> None:
    for piece in pieces():
        ids = codec.encode(piece)
        validate(codec, ids)
        validate(codec, ids[:-1])
    with pytest.raises(ValueError, match="position"):
        codec.decode(codec.from_names(["Piece", "TimeSig_4/4", "Tempo_120", "Bar", "Pos_12", "Pos_12"]), strict=True)
    with pytest.raises(ValueError, match="past the end"):
        codec.decode(codec.from_names(["Piece", "TimeSig_3/4", "Tempo_120", "Bar", "Pos_40"]), strict=True)


def test_untrained_model_at_temperature_2_draws_only_valid_tokens(codec: GridTokenizer,
                                                                  model: LanguageModel) -> None:
    start, samples, steps = codec.start_ids(), 10, 1000
    grammar = codec.grammar(start, samples, bars=10_000)  # End held back: every sample runs all steps
    drawn = [list(start) for _ in range(samples)]
    generator = torch.Generator().manual_seed(0)
    for tokens in generate(model, start, steps, SamplingSettings(temperature=2.0), samples, generator,
                           constraint=grammar):
        for index, token in enumerate(tokens.tolist()):
            drawn[index].append(token)
    assert sum(len(s) - len(start) for s in drawn) == samples * steps >= 10_000
    for ids in drawn:
        validate(codec, ids)
        assert codec.index["Bar"] in ids  # music was written, not just a header
    kinds = {codec.kinds[i] for s in drawn for i in s}
    assert {BAR, TIMESIG, POS, TRACK, PITCH, VEL, DUR} <= kinds


def test_validator_catches_what_an_unconstrained_model_draws(codec: GridTokenizer, model: LanguageModel) -> None:
    """The same model without the grammar writes invalid music at once (so the test above has teeth)."""
    generator = torch.Generator().manual_seed(0)
    start = codec.start_ids()
    stream = generate(model, start, 200, SamplingSettings(temperature=2.0), 5, generator)
    drawn = [list(start) + s for s in torch.stack(list(stream), dim=1).tolist()]
    for ids in drawn:
        with pytest.raises((AssertionError, ValueError)):
            validate(codec, ids)


@pytest.mark.parametrize("bars", [1, 3, 8])
def test_bars_gives_exactly_that_many_bars(codec: GridTokenizer, model: LanguageModel, bars: int) -> None:
    pieces_out = sample_music(model, codec, SampleRequest(bars=bars, num_samples=4, random_seed=bars,
                                                          settings=SamplingSettings(temperature=2.0)))
    for piece in pieces_out:
        num, den = piece.time_signature
        assert piece.end == pytest.approx(bars * num * 4 / den)  # a note reaches the last bar line, cut there


def test_end_ends_sampling(codec: GridTokenizer, model: LanguageModel) -> None:
    """Each sample stops at its End and the generator stops once all have: far fewer steps than allowed."""
    start, samples = codec.start_ids(), 8
    grammar = codec.grammar(start, samples)
    steps = 0
    for _ in generate(model, start, 5000, SamplingSettings(temperature=2.0), samples,
                      torch.Generator().manual_seed(0), constraint=grammar):
        steps += 1
    assert all(grammar.done(i) for i in range(samples))
    assert steps < 1000
    request = SampleRequest(length=5000, num_samples=samples, random_seed=0, settings=SamplingSettings(temperature=2.0))
    lengths = []
    original = codec.decode

    def spy(ids: list[int], strict: bool = False) -> Piece:
        lengths.append(len(ids))
        validate(codec, list(ids))
        assert list(ids).count(codec.end_id) == 1 and ids[-1] == codec.end_id
        return original(ids, strict)

    codec.decode = spy  # type: ignore[method-assign]
    try:
        sample_music(model, codec, request)
    finally:
        del codec.decode
    assert len(lengths) == samples and max(lengths) < 1000
