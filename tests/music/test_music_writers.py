"""Writers: a DAW-ready type-1 MIDI file (checked with mido at the byte level), MusicXML, WAV, PNG."""

from __future__ import annotations

import wave
from collections import defaultdict
from pathlib import Path

import mido
import pretty_midi
import pytest

from seqgen.errors import SeqgenError
from seqgen.music.midi_io import piece_from_midi, piece_to_midi, read_midi
from seqgen.music.reader import read_music
from seqgen.music.score import Note, Piece, Track
from seqgen.music.writers import write_music


def band() -> Piece:
    """Three tracks incl. drums, 3/4 at 90 qpm in D major, with traps: a same-pitch overlap,
    a zero-length note, two notes struck at once on one pitch, and varied velocities."""
    lead = [Note(74, 0.0, 2.0, 100), Note(74, 1.0, 1.0, 60), Note(76, 3.0, 0.0, 70), Note(78, 4.0, 2.0, 20),
            Note(79, 6.0, 1.0, 127), Note(79, 6.0, 0.5, 50)]
    bass = [Note(38, q, 1.5, 90) for q in (0.0, 3.0, 6.0)]
    drums = [Note(36, q, 0.25, 110) for q in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)] + [Note(42, 0.5, 0.1, 80)]
    return Piece(
        tracks=[Track("Lead", 81, False, lead), Track("Bass", 33, False, bass), Track("Kit", 0, True, drums)],
        tempo_qpm=90.0,
        time_signature=(3, 4),
        key="D major",
        title="band",
        tempo_changes=[(6.0, 60.0)],
        time_signature_changes=[(6.0, 2, 4)],
    )


def midi_notes(track: mido.MidiTrack) -> list[tuple[int, int, int, int, int]]:
    """(channel, pitch, start tick, end tick, velocity) from raw messages, pairing on/off."""
    tick, open_, out = 0, defaultdict(list), []
    for msg in track:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            open_[(msg.channel, msg.note)].append((tick, msg.velocity))
        elif msg.type in ("note_off", "note_on"):
            start, vel = open_[(msg.channel, msg.note)].pop(0)
            out.append((msg.channel, msg.note, start, tick, vel))
    assert not any(open_.values()), "hanging notes"
    return out


def test_midi_file_is_daw_ready(tmp_path: Path) -> None:
    path = write_music(band(), tmp_path / "band.mid")
    midi = mido.MidiFile(path)
    assert midi.type == 1 and midi.ticks_per_beat == 480 and len(midi.tracks) == 4
    conductor = midi.tracks[0]
    at_zero = [m for m in conductor[:4] if m.is_meta and m.time == 0]
    assert any(m.type == "set_tempo" and abs(m.tempo - mido.bpm2tempo(90)) <= 1 for m in at_zero)
    assert any(m.type == "time_signature" and (m.numerator, m.denominator) == (3, 4) for m in at_zero)
    assert any(m.type == "key_signature" and m.key == "D" for m in at_zero)
    tick, changes = 0, []
    for m in conductor:
        tick += m.time
        if m.type in ("set_tempo", "time_signature") and tick > 0:
            changes.append((m.type, tick))
    assert ("set_tempo", 6 * 480) in changes and ("time_signature", 6 * 480) in changes

    names, programs, channels = [], [], []
    for track in midi.tracks[1:]:
        names += [m.name for m in track if m.type == "track_name"]
        programs += [(m.program, m.channel) for m in track if m.type == "program_change"]
        notes = midi_notes(track)
        channels.append({c for c, *_ in notes})
        assert all(end > start for _, _, start, end, _ in notes), "zero-length note"
        by_pitch = defaultdict(list)
        for _, pitch, start, end, _ in notes:
            by_pitch[pitch].append((start, end))
        for spans in by_pitch.values():
            spans.sort()
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "same-pitch overlap"
        last_off = max(end for *_, end, _ in notes)
        assert sum(m.time for m in track) <= last_off + 1  # the track ends with its last note
    assert names == ["Lead", "Bass", "Kit"]
    assert [p for p, _ in programs] == [81, 33, 0]
    assert channels[2] == {9} and 9 not in channels[0] | channels[1]

    lead = sorted(midi_notes(midi.tracks[1]), key=lambda n: n[2])
    # overlap: the first D5 is cut where the second starts; the 0-length note gets one tick;
    # of two G5 struck together, one stands
    assert [(p, s, e, v) for _, p, s, e, v in lead] == [
        (74, 0, 480, 100), (74, 480, 960, 60), (76, 1440, 1441, 70), (78, 1920, 2880, 20), (79, 2880, 3360, 127)]


def test_midi_reads_back_in_quarters(tmp_path: Path) -> None:
    piece = band()
    back = read_midi(write_music(piece, tmp_path / "band.mid"))
    tracks = [(t.name, t.program, t.is_drum) for t in back.tracks]
    assert tracks == [("Lead", 81, False), ("Bass", 33, False), ("Kit", 0, True)]
    assert back.tempo_qpm == pytest.approx(90) and back.tempo_changes == [(6.0, pytest.approx(60.0))]
    assert back.time_signature == (3, 4) and back.time_signature_changes == [(6.0, 2, 4)]
    assert back.key == "D major"
    bass = [(n.pitch, n.start, n.duration, n.velocity) for n in back.tracks[1].notes]
    assert bass == [(38, 0.0, 1.5, 90), (38, 3.0, 1.5, 90), (38, 6.0, 1.5, 90)]
    # seconds follow the tempo map: 6 quarters at 90 qpm, then 60 qpm
    assert piece.seconds_at(7.0) == pytest.approx(6 * 60 / 90 + 1.0)
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "band.mid"))
    assert pm.instruments[1].notes[2].start == pytest.approx(4.0)


def test_pretty_midi_model_round_trip() -> None:
    pm = piece_to_midi(band())
    again = piece_from_midi(pm)
    assert [len(t.notes) for t in again.tracks] == [5, 3, 7]


def test_track_names_outside_latin1_are_replaced(tmp_path: Path) -> None:
    piece = Piece([Track("Flöte ♪", 73, False, [Note(60, 0.0, 1.0)])])
    names = [m.name for m in mido.MidiFile(write_music(piece, tmp_path / "u.mid")).tracks[1] if m.type == "track_name"]
    assert names == ["Flöte ?"]


def test_empty_piece_writes_a_valid_file(tmp_path: Path) -> None:
    path = write_music(Piece(), tmp_path / "empty.mid")
    assert mido.MidiFile(path).type == 1
    assert read_music(path)[0][1] == "no notes"


def test_other_formats(tmp_path: Path) -> None:
    piece = band()
    png = write_music(piece, tmp_path / "roll.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wav = write_music(piece, tmp_path / "preview.wav")
    with wave.open(str(wav)) as w:
        assert w.getnframes() / w.getframerate() >= piece.seconds - 0.1
    for suffix in (".musicxml", ".mxl"):
        xml = write_music(piece, tmp_path / f"score{suffix}")
        (_, back), = read_music(xml)
        assert isinstance(back, Piece)
        assert [t.name for t in back.tracks] == ["Lead", "Bass", "Kit"]
        got = sorted((n.pitch, n.start) for n in back.tracks[1].notes)
        assert got == [(38, 0.0), (38, 3.0), (38, 6.0)]
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_unknown_suffix_lists_supported(tmp_path: Path) -> None:
    with pytest.raises(SeqgenError, match=r"\.mid.*\.png"):
        write_music(band(), tmp_path / "x.mp3")
    assert not (tmp_path / "x.mp3").exists()


def test_an_empty_piece_writes_a_well_formed_score(tmp_path: Path) -> None:
    """A sample can end before its first note; its MusicXML must still open in notation software."""
    import warnings

    import music21

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # music21 warns when it writes a score that is not well-formed
        write_music(Piece(tracks=[], time_signature=(3, 4)), tmp_path / "empty.musicxml")
    score = music21.converter.parse(tmp_path / "empty.musicxml")
    assert score.isWellFormedNotation() and score.highestTime == 3.0
