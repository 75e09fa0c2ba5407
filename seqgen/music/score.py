"""The one small, flat note model every music corpus, codec and writer shares.

Like pretty_midi's ``PrettyMIDI -> Instrument -> Note``, but timed in quarter notes rather than
seconds: scores (MusicXML, ABC, kern) think in beats, a grid codec needs beats, and a tempo map
turns quarters into seconds whenever a performance codec or an audio writer needs them. Keeping
one plain model means music21 and pretty_midi objects stay at the edges (readers and writers), and
parsed corpora can be cached as plain JSON.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
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

    ``bars`` are the score's own bar starts in quarters, sorted, from 0: a score may hold short
    or long bars (a dropped note, a part ending before a repeat), which time-signature arithmetic
    would put every later bar line in the wrong place for. Empty when unknown (MIDI files): bars
    then follow the meter. ``issues`` are what the reader noticed but kept the piece despite, as
    short tagged lines (``"short bars: 4, 8"``, ``"repeats not expanded: ..."``).
    """

    tracks: list[Track] = field(default_factory=list)
    tempo_qpm: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: str | None = None
    title: str = ""
    tempo_changes: list[tuple[float, float]] = field(default_factory=list)
    time_signature_changes: list[tuple[float, int, int]] = field(default_factory=list)
    bars: list[float] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    # -- sizes -------------------------------------------------------------------------------
    @property
    def n_notes(self) -> int:
        return sum(len(t.notes) for t in self.tracks)

    @property
    def end(self) -> float:
        """Quarter at which the last note ends (0 for an empty piece)."""
        return max((n.end for t in self.tracks for n in t.notes), default=0.0)

    @property
    def n_bars(self) -> int:
        """Bars up to the last note: the score's own bars where it has them, else the meter's."""
        return sum(1 for q in (self.bars or bar_lines(self)) if q < self.end - 1e-9)

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
        return self.to_seconds()(quarter)

    def to_seconds(self) -> Callable[[float], float]:
        """A quarters -> seconds function for this tempo map (build once, call per note: a MIDI
        file may hold thousands of tempo changes)."""
        tempo_map = self.tempo_map()
        starts = [q for q, _ in tempo_map]
        elapsed = [0.0]
        for (q0, qpm), (q1, _) in zip(tempo_map, tempo_map[1:]):
            elapsed.append(elapsed[-1] + (q1 - q0) * 60.0 / qpm)

        def convert(quarter: float) -> float:
            i = max(0, bisect.bisect_right(starts, quarter) - 1)
            return elapsed[i] + (quarter - starts[i]) * 60.0 / tempo_map[i][1]

        return convert

    def to_quarters(self) -> Callable[[float], float]:
        """The inverse of :meth:`to_seconds`: a seconds -> quarters function for this tempo map."""
        tempo_map = self.tempo_map()
        to_seconds = self.to_seconds()
        elapsed = [to_seconds(q) for q, _ in tempo_map]

        def convert(seconds: float) -> float:
            i = max(0, bisect.bisect_right(elapsed, seconds) - 1)
            return tempo_map[i][0] + (seconds - elapsed[i]) * tempo_map[i][1] / 60.0

        return convert

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
            "bars": list(self.bars),
            "issues": list(self.issues),
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
            bars=list(data.get("bars", [])),  # caches written before bars were read have none
            issues=list(data.get("issues", [])),
        )


def bar_lines(piece: Piece) -> list[float]:
    """Quarter positions of the meter's bar lines up to the end of the piece, following meter
    changes (a score's own bars, which may be short or long, are ``Piece.bars``)."""
    lines, q, end = [], 0.0, piece.end
    while q <= end and len(lines) < 100_000:
        lines.append(q)
        num, den = piece.meter_at(q)
        q += max(num * 4 / den, 0.25)
    return lines


def retime(piece: Piece, tempo_qpm: float, tempo_changes: list[tuple[float, float]]) -> Piece:
    """The same sounding music under another tempo map: each note keeps its time in seconds and
    gets the quarters that time falls on under ``tempo_qpm`` and ``tempo_changes``. For music
    timed in seconds (the performance codec), where a new tempo must not speed it up or slow it
    down. The piece's own bar starts are dropped (they were in the old quarters)."""
    seconds = piece.to_seconds()
    quarters = Piece(tempo_qpm=tempo_qpm, tempo_changes=list(tempo_changes)).to_quarters()
    tracks = []
    for t in piece.tracks:
        notes = []
        for n in t.notes:
            start = quarters(seconds(n.start))
            notes.append(Note(n.pitch, start, quarters(seconds(n.end)) - start, n.velocity))
        tracks.append(Track(t.name, t.program, t.is_drum, notes))
    return Piece(tracks=tracks, tempo_qpm=tempo_qpm, time_signature=piece.time_signature, key=piece.key,
                 title=piece.title, tempo_changes=list(tempo_changes),
                 time_signature_changes=list(piece.time_signature_changes), issues=list(piece.issues))


def transpose(piece: Piece, semitones: int) -> Piece:
    """A copy shifted by ``semitones`` (drum tracks untouched; notes pushed outside 0..127 are
    dropped). Transposing the train pieces through all keys is the cheapest big win for music
    models (Walder 2016); the key name is dropped rather than respelled."""
    tracks = []
    for t in piece.tracks:
        shift = 0 if t.is_drum else semitones
        notes = [Note(n.pitch + shift, n.start, n.duration, n.velocity) for n in t.notes if 0 <= n.pitch + shift <= 127]
        tracks.append(Track(t.name, t.program, t.is_drum, notes))
    return Piece(
        tracks=tracks,
        tempo_qpm=piece.tempo_qpm,
        time_signature=piece.time_signature,
        key=piece.key if semitones % 12 == 0 else None,
        title=piece.title,
        tempo_changes=list(piece.tempo_changes),
        time_signature_changes=list(piece.time_signature_changes),
        bars=list(piece.bars),
        issues=list(piece.issues),
    )
