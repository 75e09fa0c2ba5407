"""Sustain pedal (MIDI control change 64) on reading, and the performance codec's note cap."""

from __future__ import annotations

from pathlib import Path

import pretty_midi
import pytest

from seqgen.music.midi_io import read_midi
from seqgen.music.performance import PerformanceTokenizer
from seqgen.music.reader import read_music


def _write(path: Path, notes: list[tuple[int, float, float]], pedal: list[tuple[float, int]]) -> Path:
    """A one-piano file at 120 qpm (one quarter = 0.5 s); ``pedal`` = ``[(seconds, value)]``."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0, name="Piano")
    for pitch, start, end in notes:
        piano.notes.append(pretty_midi.Note(velocity=80, pitch=pitch, start=start, end=end))
    for time, value in pedal:
        piano.control_changes.append(pretty_midi.ControlChange(number=64, value=value, time=time))
    # a second note past the pedal's release keeps the file longer than the pedal
    piano.notes.append(pretty_midi.Note(velocity=80, pitch=72, start=3.0, end=3.5))
    pm.instruments.append(piano)
    pm.write(str(path))
    return path


def _seconds(path: Path, pitch: int = 60, **options: bool) -> list[tuple[float, float]]:
    piece = read_midi(path, **options)
    to_s = piece.to_seconds()
    return [(round(to_s(n.start), 3), round(to_s(n.end), 3)) for n in piece.tracks[0].notes if n.pitch == pitch]


def test_pedal_holds_a_released_note_until_the_pedal_lifts(tmp_path: Path) -> None:
    path = _write(tmp_path / "pedal.mid", [(60, 0.0, 0.25)], [(0.0, 127), (2.0, 0)])
    assert _seconds(path) == [(0.0, 2.0)]
    assert _seconds(path, sustain=False) == [(0.0, 0.25)]
    piece = read_music(path)[0][1]
    assert not isinstance(piece, str) and piece.tracks[0].notes[0].end == pytest.approx(4.0)  # quarters
    piece = read_music(path, sustain=False)[0][1]
    assert not isinstance(piece, str) and piece.tracks[0].notes[0].end == pytest.approx(0.5)


def test_without_pedal_notes_keep_their_length(tmp_path: Path) -> None:
    path = _write(tmp_path / "dry.mid", [(60, 0.0, 0.25)], [])
    assert _seconds(path) == [(0.0, 0.25)]
    # a pedal pressed after the note-off changes nothing; values below 64 are "up"
    path = _write(tmp_path / "late.mid", [(60, 0.0, 0.25)], [(0.5, 127), (1.0, 0), (1.5, 63)])
    assert _seconds(path) == [(0.0, 0.25)]
    # a note still held when the pedal lifts keeps its own end
    path = _write(tmp_path / "held.mid", [(60, 0.0, 2.5)], [(0.0, 100), (1.0, 0)])
    assert _seconds(path) == [(0.0, 2.5)]


def test_restruck_pitch_ends_the_sustained_note(tmp_path: Path) -> None:
    path = _write(tmp_path / "restrike.mid", [(60, 0.0, 0.25), (60, 1.0, 1.25), (64, 0.0, 0.25)],
                  [(0.0, 127), (2.0, 0)])
    assert _seconds(path) == [(0.0, 1.0), (1.0, 2.0)]
    assert _seconds(path, pitch=64) == [(0.0, 2.0)]
    assert _seconds(path, sustain=False) == [(0.0, 0.25), (1.0, 1.25)]


def test_pedal_never_lifted_holds_to_the_end(tmp_path: Path) -> None:
    path = _write(tmp_path / "stuck.mid", [(60, 0.0, 0.25)], [(0.0, 127)])
    assert _seconds(path) == [(0.0, 3.5)]


def test_pedal_is_per_instrument(tmp_path: Path) -> None:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for program, pedal in ((0, True), (24, False)):
        inst = pretty_midi.Instrument(program=program)
        inst.notes.append(pretty_midi.Note(velocity=80, pitch=60, start=0.0, end=0.25))
        if pedal:
            inst.control_changes += [pretty_midi.ControlChange(64, 127, 0.0), pretty_midi.ControlChange(64, 0, 2.0)]
        pm.instruments.append(inst)
    pm.write(str(tmp_path / "two.mid"))
    piece = read_midi(tmp_path / "two.mid")
    assert [round(t.notes[0].end, 3) for t in piece.tracks] == [4.0, 0.5]


def test_performance_decode_caps_a_note_without_note_off_at_five_seconds() -> None:
    codec = PerformanceTokenizer()
    names = ["Piece", "NoteOn_60", "NoteOn_64", "Shift_500ms", "NoteOff_64"] + ["Shift_1000ms"] * 30
    names += ["NoteOn_67", "Shift_500ms", "NoteOff_67", "End"]
    piece = codec.decode(codec.from_names(names))
    to_s = piece.to_seconds()
    got = sorted((n.pitch, round(to_s(n.start), 3), round(to_s(n.end), 3)) for n in piece.tracks[0].notes)
    assert got == [(60, 0.0, 5.0), (64, 0.0, 0.5), (67, 30.5, 31.0)]
    # an explicit NoteOff after more than 5 s is capped too (Magenta's max_note_duration)
    piece = codec.decode(codec.from_names(["NoteOn_60"] + ["Shift_1000ms"] * 8 + ["NoteOff_60"]))
    assert [round(to_s(n.duration), 3) for n in piece.tracks[0].notes] == [5.0]
