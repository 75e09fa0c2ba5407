"""Constrained decoding for the performance codec: an untrained and a briefly trained model at
temperature 2 draw only events the encoder could have written (checked by a replay written from
``PerformanceTokenizer.encode``, not by the grammar), ``End`` ends sampling, ``seconds`` bound the
length, and a key masks note-ons."""

from __future__ import annotations

import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.generate import SampleRequest, sample_music
from seqgen.model import LanguageModel
from seqgen.music.controls import parse_key
from seqgen.music.performance import END, OFF, ON, PIECE, SHIFT, TRACK, VEL, PerformanceTokenizer
from seqgen.music.score import Note, Piece, Track
from seqgen.sampler import SamplingSettings, generate


def pieces() -> list[Piece]:
    """A two-note-chord piano part over a bass line, and a solo flute: three slots, overlaps."""
    piano = [Note(60 + (i * 5) % 12, i * 0.5, 1.0, 96) for i in range(32)] + \
            [Note(67 + (i * 7) % 12, i * 0.5, 1.0, 64) for i in range(32)]
    bass = [Note(36 + i % 7, i * 2.0, 2.0, 80) for i in range(8)]
    flute = [Note(72 + i % 5, i * 0.25, 0.25, 100) for i in range(40)]
    return [Piece([Track("Piano", 0, False, piano), Track("Bass", 33, False, bass)]),
            Piece([Track("Flute", 73, False, flute)], tempo_qpm=90.0)]


def validate(codec: PerformanceTokenizer, ids: list[int], finished: bool = False) -> None:
    """Raise unless ``ids`` is what ``encode`` writes (or a prefix of it, unless ``finished``):
    ``Piece`` first; Track and Vel only on change, before a note; Vel right before its NoteOn;
    NoteOn of a silent pitch, NoteOff of a sounding one on the track in force, and no NoteOff
    after a NoteOn in the same step; End last, with nothing sounding."""
    assert ids and ids[0] == codec.index["Piece"], "no Piece first"
    track = velocity = None
    sounding: dict[int, set[int]] = {}
    struck, last = False, None
    for index, token in enumerate(ids[1:], 1):
        assert 0 <= token < codec.vocab_size, f"{index}: not in the vocabulary"
        kind, value = codec.kinds[token], codec.values[token]
        where = f"token {index} ({codec.names[token]})"
        assert kind != PIECE, f"{where}: a second Piece"
        if last == VEL:
            assert kind == ON, f"{where}: a Vel not followed by its NoteOn"
        if last == TRACK:
            assert kind in (ON, OFF, VEL), f"{where}: a Track not followed by a note"
        if kind == END:
            assert index == len(ids) - 1, f"{where}: tokens after End"
            assert not any(sounding.values()), f"{where}: End with notes sounding"
        elif kind == SHIFT:
            struck = False
        elif kind == TRACK:
            assert value != track, f"{where}: repeats the track in force"
            track = value
        elif kind == VEL:
            assert value != velocity, f"{where}: repeats the velocity in force"
            velocity = value
        elif kind in (ON, OFF):
            assert track is not None, f"{where}: a note before any Track"
            playing = sounding.setdefault(track, set())
            if kind == ON:
                assert velocity is not None, f"{where}: a NoteOn before any Vel"
                assert value not in playing, f"{where}: NoteOn of a sounding pitch"
                playing.add(value)
                struck = True
            else:
                assert value in playing, f"{where}: NoteOff of a silent pitch"
                assert not struck, f"{where}: NoteOff after a NoteOn in the same step"
                playing.discard(value)
        last = kind
    if finished:
        assert ids[-1] == codec.end_id


@pytest.fixture(scope="module")
def codec() -> PerformanceTokenizer:
    return PerformanceTokenizer.fit(pieces())


def model_for(codec: PerformanceTokenizer, steps: int) -> LanguageModel:
    """A tiny model trained ``steps`` steps on the pieces' encodings (0: untrained)."""
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(layers=1, hidden=16, embed=8, dropout=0, vocab_size=codec.vocab_size))
    ids = torch.tensor([t for p in pieces() for t in codec.encode(p)])[None]
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        logits, _ = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, codec.vocab_size), ids[:, 1:].reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def test_the_encoder_passes_the_validator(codec: PerformanceTokenizer) -> None:
    for piece in pieces():
        validate(codec, codec.encode(piece), finished=True)
    bad = [["Piece", "Track_0", "Vel_80", "NoteOn_60", "NoteOff_60"], ["Piece", "Track_0", "NoteOff_60"],
           ["Piece", "Track_0", "Vel_80", "NoteOn_60", "Shift_10ms", "End"]]
    for names in bad:
        with pytest.raises(AssertionError):
            validate(codec, codec.from_names(names))


@pytest.mark.parametrize("steps", [0, 30])
def test_temperature_2_draws_only_valid_events(codec: PerformanceTokenizer, steps: int) -> None:
    model = model_for(codec, steps)
    start, samples, length = codec.start_ids(), 10, 1000
    grammar = codec.grammar(start, samples, seconds=10_000)  # End held back: every sample runs all steps
    drawn = [list(start) for _ in range(samples)]
    for tokens in generate(model, start, length, SamplingSettings(temperature=2.0), samples,
                           torch.Generator().manual_seed(steps), constraint=grammar):
        for index, token in enumerate(tokens.tolist()):
            drawn[index].append(token)
    assert sum(len(s) - 1 for s in drawn) == samples * length >= 10_000
    for ids in drawn:
        validate(codec, ids)
    assert {ON, OFF, SHIFT, TRACK, VEL} <= {codec.kinds[i] for s in drawn for i in s}
    free = [list(start) + s for s in torch.stack(list(generate(
        model, start, 300, SamplingSettings(temperature=2.0), 5, torch.Generator().manual_seed(0))), dim=1).tolist()]
    for ids in free:  # the same model without the grammar writes invalid events (the check has teeth)
        with pytest.raises(AssertionError):
            validate(codec, ids)


def test_end_ends_sampling_and_seconds_bound_the_length(codec: PerformanceTokenizer) -> None:
    model = model_for(codec, 30)
    with torch.no_grad():
        model.head.bias[codec.end_id] += 8.0  # End is likely whenever it is allowed (nothing sounds)
    hot = SamplingSettings(temperature=2.0)
    grammar = codec.grammar(codec.start_ids(), 4)
    steps = sum(1 for _ in generate(model, codec.start_ids(), 20_000, hot, 4, torch.Generator().manual_seed(1),
                                    constraint=grammar))
    assert all(grammar.done(i) for i in range(4)) and steps < 20_000
    for piece in sample_music(model, codec, SampleRequest(seconds=3.0, num_samples=3, random_seed=2, settings=hot)):
        assert 2.0 < piece.seconds <= 3.0 + 1e-9


def test_key_masks_note_ons(codec: PerformanceTokenizer) -> None:
    model = model_for(codec, 0)
    request = SampleRequest(seconds=30.0, num_samples=3, random_seed=3, key="Ab major",
                            settings=SamplingSettings(temperature=2.0))
    out = sample_music(model, codec, request)
    pitches = {n.pitch % 12 for piece in out for t in piece.tracks for n in t.notes}
    assert pitches and pitches <= parse_key("Ab major").pitch_classes
    assert {piece.key for piece in out} == {"Ab major"}
