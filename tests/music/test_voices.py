"""Seed chords spread over the voices, primer tracks keep their kind (drum or pitched), MIDI
channels for many tracks, and drums written to MusicXML as a percussion part."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from seqgen.errors import SeqgenError
from seqgen.music.channels import ChannelledMIDI, assign_channels
from seqgen.music.codecs import TrackTable
from seqgen.music.grid import GridTokenizer
from seqgen.music.performance import PerformanceTokenizer
from seqgen.music.score import Note, Piece, Track
from seqgen.music.writers import write_music
from seqgen.tokenizer import fit_tokenizer

SATB = [("Soprano", 72), ("Alto", 65), ("Tenor", 57), ("Bass", 48)]


def satb_pieces() -> list[Piece]:
    return [Piece([Track(name, 52, False, [Note(p + k, float(k), 1.0) for k in range(4)]) for name, p in SATB])]


def seeded(codec: object, seed: str) -> dict[str, list[int]]:
    piece = codec.decode(codec.encode_seed(seed))  # type: ignore[attr-defined]
    return {t.name: sorted(n.pitch for n in t.notes) for t in piece.tracks}


@pytest.mark.parametrize("kind", ["grid", "performance"])
def test_seed_chord_is_spread_over_the_voices_top_first(kind: str) -> None:
    codec = fit_tokenizer(kind, satb_pieces())
    assert seeded(codec, "C4 E4 G4") == {"Soprano": [67], "Alto": [64], "Tenor": [60]}
    # more notes than voices: the extra (low) notes go to the voice nearest in range
    assert seeded(codec, "C2 C3 C4 E4 G4 C5") == {"Soprano": [72], "Alto": [67], "Tenor": [64],
                                                   "Bass": [36, 48, 60]}


def test_seed_voices_by_median_pitch_not_table_order() -> None:
    # the table lists the bass first: register, not order, decides
    table = TrackTable.fit([Piece([Track("Low", 32, False, [Note(40, 0.0, 1.0)]),
                                   Track("High", 73, False, [Note(84, 0.0, 1.0)]),
                                   Track("Kit", 0, True, [Note(36, 0.0, 1.0)])])])
    assert table.spread([60, 64, 67]) == {1: [67], 0: [64, 60]}


def test_seed_voices_by_name_when_the_table_has_no_pitches() -> None:
    table = TrackTable([{"name": n, "program": 52, "is_drum": False} for n in ("Bass", "Tenor", "Alto", "Soprano")])
    assert table.spread([60, 64, 67]) == {3: [67], 2: [64], 1: [60]}
    assert table.spread([48, 60, 64, 67, 72]) == {3: [72], 2: [67], 1: [64], 0: [60, 48]}


def test_one_track_model_keeps_the_whole_chord() -> None:
    codec = GridTokenizer(tracks=[{"name": "Piano", "program": 0, "is_drum": False}])
    assert seeded(codec, "C4 E4 G4") == {"Piano": [60, 64, 67]}
    perf = PerformanceTokenizer(tracks=[{"name": "Piano", "program": 0, "is_drum": False}])
    assert seeded(perf, "C4 E4 G4") == {"Piano": [60, 64, 67]}


def test_primer_tracks_never_swap_drum_and_pitched_slots() -> None:
    table = TrackTable([{"name": "Piano", "program": 0, "is_drum": False},
                        {"name": "Drums", "program": 0, "is_drum": True},
                        {"name": "Bass", "program": 33, "is_drum": False}])
    kinds = [t["is_drum"] for t in table.tracks]
    primers = [
        [Track("Bass", 33, False), Track("Drums", 0, True)],
        [Track("Fretless", 35, False), Track("Kit", 25, True)],  # no name or program match
        [Track("Kit", 25, True), Track("Fretless", 35, False)],  # kinds in the other order
        [Track("Drums", 38, False), Track("Bass", 0, True)],  # names of the other kind
    ]
    for tracks in primers:
        for position, track in enumerate(tracks):
            assert kinds[table.slot(track, position)] == track.is_drum, (track, position)
    assert table.slot(Track("Fretless", 35, False), 1) == 2  # a bass (GM family 32-39) -> Bass
    assert table.slot(Track("Bass", 33, False), 0) == 2


def test_channels_one_each_then_shared_by_program_then_an_error() -> None:
    drums = Track("Kit", 0, True)
    fifteen = [Track(f"T{i}", i, False) for i in range(15)]
    assert assign_channels(fifteen + [drums]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 9]
    assert assign_channels([drums] + fifteen)[0] == 9 and sorted(assign_channels([drums] + fifteen)[1:]) == \
        [c for c in range(16) if c != 9]
    # 20 strings tracks on 2 programs: each program gets a channel, the rest go one each, then share
    strings = [Track(f"S{i}", 48 + i % 2, False) for i in range(20)]
    channels = assign_channels(strings)
    assert 9 not in channels and len(set(channels)) == 15
    for c in set(channels):
        assert len({strings[i].program for i, ch in enumerate(channels) if ch == c}) == 1
    with pytest.raises(SeqgenError, match="16 pitched tracks with 16 programs: MIDI has 15 melodic channels"):
        assign_channels([Track(f"T{i}", i, False) for i in range(16)])


def test_channelled_midi_writes_the_assigned_channels(tmp_path: Path) -> None:
    from seqgen.music.midi_io import piece_to_midi

    tracks = [Track("Kit", 0, True, [Note(36, 0.0, 1.0)])] + [Track(f"T{i}", i, False, [Note(60, 0.0, 1.0)])
                                                              for i in range(15)]
    pm = piece_to_midi(Piece(tracks))
    mine = ChannelledMIDI(resolution=pm.resolution)
    mine.instruments = pm.instruments
    mine.write(str(tmp_path / "c.mid"))
    used = [{m.channel for m in t if not m.is_meta} for t in mido.MidiFile(tmp_path / "c.mid").tracks[1:]]
    assert used[0] == {9} and sorted(c for s in used[1:] for c in s) == [c for c in range(16) if c != 9]


def test_drums_in_musicxml_are_a_percussion_part(tmp_path: Path) -> None:
    from music21 import clef, converter

    piece = Piece([Track("Piano", 0, False, [Note(60, 0.0, 1.0)]),
                   Track("Drums", 0, True, [Note(36, 0.0, 0.5), Note(38, 1.0, 1.0)])])
    score = converter.parse(str(write_music(piece, tmp_path / "drums.musicxml")))
    clefs = {p.partName: [c for c in p.recurse().getElementsByClass("Clef")] for p in score.parts}
    assert clefs["Drums"] and all(isinstance(c, clef.PercussionClef) for c in clefs["Drums"])
    assert not any(isinstance(c, clef.PercussionClef) for c in clefs["Piano"])


@pytest.mark.parametrize("kind", ["grid", "performance"])
def test_voice_ranges_are_those_of_the_pieces_as_written(kind: str) -> None:
    """Transposed copies widen what the model hears, not what a voice may sing."""
    from seqgen.music.score import transpose

    written = [Piece([Track("Soprano", 52, False, [Note(60 + i, float(i), 1.0, 80) for i in range(22)])])]
    keys = [transpose(p, k) for k in range(-5, 7) for p in written]
    assert fit_tokenizer(kind, keys).tracks.limits(0)[:2] == (55, 87)
    assert fit_tokenizer(kind, keys, written=written).tracks.limits(0)[:2] == (60, 81)
