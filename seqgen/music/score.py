"""The one small, flat note model every music corpus, codec and writer shares.

Like pretty_midi's ``PrettyMIDI -> Instrument -> Note``, but timed in quarter notes rather than
seconds: scores (MusicXML, ABC, kern) think in beats, a grid codec needs beats, and a tempo map
turns quarters into seconds whenever a performance codec or an audio writer needs them. Keeping
one plain model means music21 and pretty_midi objects stay at the edges (readers and writers), and
parsed corpora can be cached as plain JSON.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Note:
    """One sounding note. Times are in quarter notes from the start of the piece."""

    pitch: int
    start: float
    duration: float
    velocity: int = 80

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class Track:
    """One voice or instrument: a MIDI track in a DAW, a part (staff) in notation software."""

    name: str = ""
    program: int = 0
    is_drum: bool = False
    notes: list[Note] = field(default_factory=list)


@dataclass
class Piece:
    """A whole piece: tracks plus the tempo and meter needed to place notes in time.

    ``tempo_qpm`` and ``time_signature`` hold at time 0; later changes (rare in the corpora we
    read, but real in MIDI files) are listed in ``tempo_changes`` as ``(quarter, qpm)`` and in
    ``time_signature_changes`` as ``(quarter, numerator, denominator)``, sorted by time.
    """

    tracks: list[Track] = field(default_factory=list)
    tempo_qpm: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: str | None = None
    title: str = ""
    tempo_changes: list[tuple[float, float]] = field(default_factory=list)
    time_signature_changes: list[tuple[float, int, int]] = field(default_factory=list)

    # -- sizes -------------------------------------------------------------------------------
    @property
    def n_notes(self) -> int:
        return sum(len(t.notes) for t in self.tracks)

    @property
    def end(self) -> float:
        """Quarter at which the last note ends (0 for an empty piece)."""
        return max((n.end for t in self.tracks for n in t.notes), default=0.0)

    @property
    def seconds(self) -> float:
        """Length in seconds under the piece's tempo map."""
        return self.seconds_at(self.end)

    # -- time ----------------------------------------------------------------------------------
    def tempo_map(self) -> list[tuple[float, float]]:
        """``[(quarter, qpm), ...]`` starting at quarter 0, sorted, tempi clamped positive."""
        changes = sorted((q, t) for q, t in self.tempo_changes if q > 0 and t > 0)
        return [(0.0, max(self.tempo_qpm, 1e-3))] + changes

    def seconds_at(self, quarter: float) -> float:
        """Seconds elapsed at ``quarter`` under the tempo map."""
        seconds, last_q, last_qpm = 0.0, 0.0, self.tempo_qpm
        for q, qpm in self.tempo_map():
            if q >= quarter:
                break
            seconds += (q - last_q) * 60.0 / last_qpm
            last_q, last_qpm = q, qpm
        return seconds + (quarter - last_q) * 60.0 / last_qpm

    def meter_at(self, quarter: float) -> tuple[int, int]:
        """The time signature in force at ``quarter``."""
        changes = sorted(self.time_signature_changes)
        i = bisect.bisect_right([q for q, _, _ in changes], quarter + 1e-9)
        if i == 0:
            return self.time_signature
        _, num, den = changes[i - 1]
        return (num, den)

    # -- plain data (for the parse cache) -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; notes as compact ``[pitch, start, duration, velocity]`` rows."""
        return {
            "title": self.title,
            "key": self.key,
            "tempo_qpm": self.tempo_qpm,
            "time_signature": list(self.time_signature),
            "tempo_changes": [list(c) for c in self.tempo_changes],
            "time_signature_changes": [list(c) for c in self.time_signature_changes],
            "tracks": [
                {
                    "name": t.name,
                    "program": t.program,
                    "is_drum": t.is_drum,
                    "notes": [[n.pitch, n.start, n.duration, n.velocity] for n in t.notes],
                }
                for t in self.tracks
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Piece:
        return cls(
            tracks=[
                Track(
                    name=t["name"],
                    program=t["program"],
                    is_drum=t["is_drum"],
                    notes=[Note(p, s, d, v) for p, s, d, v in t["notes"]],
                )
                for t in data["tracks"]
            ],
            tempo_qpm=data["tempo_qpm"],
            time_signature=tuple(data["time_signature"]),  # type: ignore[arg-type]
            key=data["key"],
            title=data["title"],
            tempo_changes=[(q, t) for q, t in data["tempo_changes"]],
            time_signature_changes=[(q, n, d) for q, n, d in data["time_signature_changes"]],
        )


def sort_notes(piece: Piece) -> Piece:
    """Sort every track's notes by (start, pitch) in place and return the piece."""
    for track in piece.tracks:
        track.notes.sort(key=lambda n: (n.start, n.pitch, n.duration))
    return piece
