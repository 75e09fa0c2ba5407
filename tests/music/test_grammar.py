"""Constrained decoding for the grid codec: an untrained model at temperature 2 draws only tokens
the encoder could have written, ``bars=N`` gives exactly N bars, and ``End`` ends sampling; the
user's key, meter and tempo and each track's fitted range and polyphony hold."""

from __future__ import annotations

import re
from pathlib import Path

import mido
import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.errors import SeqgenError
from seqgen.generate import SampleRequest, sample_music
from seqgen.music.controls import Controls, parse_key, parse_meter
from seqgen.model import LanguageModel
from seqgen.music.grid import BAR, DUR, END, PIECE, PITCH, POS, TEMPO, TIMESIG, TRACK, VEL, GridTokenizer
from seqgen.music.score import Note, Piece, Track
from seqgen.music.writers import write_music
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


# -- controls: key, meter, tempo, and each track's range and polyphony ------------------------------

def pitched(piece: Piece) -> list[int]:
    return [n.pitch for t in piece.tracks if not t.is_drum for n in t.notes]


def test_keys_parse_to_their_pitch_classes() -> None:
    e_minor = parse_key("e minor")
    assert e_minor.name == "E minor"
    assert sorted(e_minor.pitch_classes) == [0, 1, 2, 3, 4, 6, 7, 9, 11]  # natural + raised 6th and 7th
    assert sorted(parse_key("E natural minor").pitch_classes) == [0, 2, 4, 6, 7, 9, 11]
    assert sorted(parse_key("Bb").pitch_classes) == [0, 2, 3, 5, 7, 9, 10] and parse_key("Bb").name == "Bb major"
    assert parse_key("F# major").tonic == 6 and parse_meter("6/8") == (6, 8)
    for bad in ("H minor", "E dorian", "minor"):
        with pytest.raises(SeqgenError, match="not a key"):
            SampleRequest(key=bad)
    for bad in ("3/5", "3", "0/4"):
        with pytest.raises(SeqgenError, match="not a time signature"):
            SampleRequest(time_signature=bad)


def test_key_masks_every_pitch_outside_it_and_is_the_key_signature(tmp_path: Path, codec: GridTokenizer,
                                                                 model: LanguageModel) -> None:
    from music21 import converter

    hot = SamplingSettings(temperature=2.0)
    free = sample_music(model, codec, SampleRequest(bars=8, num_samples=4, random_seed=1, settings=hot))
    assert {p % 12 for piece in free for p in pitched(piece)} - parse_key("E minor").pitch_classes  # teeth
    request = SampleRequest(bars=8, num_samples=4, random_seed=1, settings=hot, key="E minor")
    for piece in sample_music(model, codec, request):
        assert pitched(piece) and {p % 12 for p in pitched(piece)} <= parse_key("E minor").pitch_classes
        assert piece.key == "E minor"
    write_music(piece, tmp_path / "e.mid")
    write_music(piece, tmp_path / "e.musicxml")
    assert [m.key for t in mido.MidiFile(tmp_path / "e.mid").tracks for m in t if m.type == "key_signature"] == ["Em"]
    signatures = converter.parse(tmp_path / "e.musicxml").recurse().getElementsByClass("KeySignature")
    assert {k.sharps for k in signatures} == {1}


def test_time_signature_sets_every_bar(tmp_path: Path, codec: GridTokenizer, model: LanguageModel) -> None:
    from music21 import converter, stream

    request = SampleRequest(bars=5, num_samples=3, random_seed=4, time_signature="6/8",
                            settings=SamplingSettings(temperature=2.0))
    for piece in sample_music(model, codec, request):
        assert piece.time_signature == (6, 8) and piece.time_signature_changes == []
        assert piece.end == pytest.approx(5 * 3.0)
    write_music(piece, tmp_path / "m.mid")
    write_music(piece, tmp_path / "m.musicxml")
    meters = [(m.numerator, m.denominator) for t in mido.MidiFile(tmp_path / "m.mid").tracks for m in t
              if m.type == "time_signature"]
    assert meters == [(6, 8)]
    part = converter.parse(tmp_path / "m.musicxml").parts[0]
    assert len(part.getElementsByClass(stream.Measure)) == 5
    assert {ts.ratioString for ts in part.recurse().getElementsByClass("TimeSignature")} == {"6/8"}
    with pytest.raises(SeqgenError, match="meters are"):
        sample_music(model, codec, SampleRequest(bars=2, time_signature="5/4"))


def test_header_tempo_is_the_corpus_usual_one_unless_asked(codec: GridTokenizer, model: LanguageModel) -> None:
    hot = SamplingSettings(temperature=2.0)
    def header_tempi(controls: Controls | None) -> list[str]:
        grammar = codec.grammar(codec.start_ids() + [codec.index["TimeSig_3/4"]], 1, controls=controls)
        return [codec.names[i] for i in range(codec.vocab_size) if grammar.allowed(0)[i]]

    assert codec.default_tempo == 92 and header_tempi(None) == ["Tempo_92"]  # 90 qpm and 120: the first
    assert header_tempi(SampleRequest(tempo=72.5).controls()) == ["Tempo_72"]
    piece = sample_music(model, codec, SampleRequest(bars=3, random_seed=0, settings=hot, tempo=72.5))[0]
    assert piece.tempo_qpm == 72.5 and piece.tempo_changes == []


def test_tracks_keep_the_range_and_polyphony_of_their_training_data(codec: GridTokenizer,
                                                                    model: LanguageModel) -> None:
    """Every track of the fitted pieces plays one note at a time: so do samples at temperature 2;
    a table saved before these limits were noted leaves the model free (and it stacks notes)."""
    assert [codec.tracks.limits(slot) for slot in range(len(codec.tracks))] == [(69, 80, 1), (45, 54, 1), (64, 68, 1)]
    request = SampleRequest(bars=8, num_samples=4, random_seed=5, settings=SamplingSettings(temperature=2.0))

    def overlaps(pieces_out: list[Piece]) -> int:
        return sum(b.start < a.end for p in pieces_out for t in p.tracks
                   for a, b in zip(t.notes, t.notes[1:]))

    for piece in sample_music(model, codec, request):
        for track in piece.tracks:
            low, high, _ = codec.tracks.limits(codec.tracks.slot(track, 0))
            assert all(low <= n.pitch <= high for n in track.notes)
        assert overlaps([piece]) == 0
    state = codec.state_dict()
    state["tracks"] = [{k: v for k, v in t.items() if k not in ("low", "high", "polyphony")} for t in state["tracks"]]
    old = GridTokenizer.from_state(state)
    assert old.tracks.limits(0) == (0, 127, None)
    assert overlaps(sample_music(model, old, request)) > 0


def test_key_holds_for_a_continuation(tmp_path: Path, codec: GridTokenizer, model: LanguageModel) -> None:
    primer = write_music(pieces()[0], tmp_path / "p.mid")  # A minor-ish lead and bass in 3/4
    request = SampleRequest(primer=str(primer), bars=4, only_new=True, key="Eb major", random_seed=2,
                            settings=SamplingSettings(temperature=2.0))
    piece = sample_music(model, codec, request)[0]
    assert pitched(piece) and {p % 12 for p in pitched(piece)} <= parse_key("Eb major").pitch_classes
    assert piece.key == "Eb major"
    with pytest.raises(SeqgenError, match="own meter"):
        SampleRequest(primer=str(primer), time_signature="4/4")
