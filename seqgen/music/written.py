"""What a MIDI file written from a piece holds, counted from the writer's own output.

``piece_to_midi`` drops empty tracks and duplicate notes, so a piece's own counts can differ from
what a DAW shows; the CLI's summary line and the playground's cards count here instead, so they
agree with the file (and with each other).
"""

from __future__ import annotations

from typing import Any

from seqgen.music.midi_io import piece_to_midi
from seqgen.music.score import Piece


def written_facts(piece: Piece, midi: Any = None) -> dict[str, Any]:
    """Tracks, notes and seconds of the MIDI file ``piece`` writes (``midi``: that file's
    ``PrettyMIDI`` when the caller has it already), bars begun, key, tempo and meter (``"3/4"``)."""
    from seqgen.music.writers import bar_lines

    midi = midi if midi is not None else piece_to_midi(piece)
    return {"tracks": len(midi.instruments), "notes": sum(len(i.notes) for i in midi.instruments),
            "seconds": round(float(midi.get_end_time()), 3),
            "bars": sum(1 for q in bar_lines(piece) if q < piece.end - 1e-9),
            "key": piece.key, "tempo": piece.tempo_qpm, "time_signature": "/".join(map(str, piece.time_signature))}


def written_summary(piece: Piece) -> str:
    """One line for a person: ``4 tracks, 97 notes, 16 bars, key E minor, 120 qpm``."""
    facts = written_facts(piece)
    key = f", key {facts['key']}" if facts["key"] else ""
    return f"{facts['tracks']} tracks, {facts['notes']} notes, {facts['bars']} bars{key}, {facts['tempo']:g} qpm"


def written_voices(midi: Any) -> list[dict[str, Any]]:
    """Each track of a written ``PrettyMIDI`` with its notes as ``[pitch, start s, end s,
    velocity]``, for drawing a piano roll that matches the file."""
    return [{"name": inst.name, "program": inst.program, "drum": inst.is_drum,
             "notes": [[n.pitch, round(n.start, 4), round(n.end, 4), n.velocity] for n in inst.notes]}
            for inst in midi.instruments]
