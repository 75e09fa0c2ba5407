"""``grid``: REMI-like beat-relative events, the default codec for score corpora.

A piece reads like a score, one bar at a time::

    Piece TimeSig_4/4 Tempo_120 Bar Pos_0 Track_0 Pitch_67 Vel_80 Dur_12 Track_1 Pitch_62 Dur_12 ...

``Pos_n`` is the onset within the bar in grid steps (default 12 per quarter note, so sixteenths
and eighth-note triplets are exact), ``Dur_n`` the length in steps. ``Track_n`` and ``Vel_n`` are
stated only when they change. ``TimeSig`` follows the ``Bar`` it starts at; ``Tempo`` follows a
``Pos``. ``Bar`` sits at the piece's own bar starts (``Piece.bars``) where it has them, else every
bar length of the meter in force. A bar shorter than its meter (a part ending before a repeat)
ends with a bare ``Pos_n`` (no note after it) that gives its length, so later bars stay in place. Because time is counted in beats, the model sees metre directly, and a chorale round-trips
exactly: every on-grid note comes back with its pitch, onset, duration and track.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from seqgen.music.codecs import (
    MAX_TRACKS,
    VELOCITIES,
    MusicTokenizer,
    TrackTable,
    nearest_velocity,
)
from seqgen.music.controls import Controls
from seqgen.music.grammar import BAR, DUR, END, PIECE, PITCH, POS, TEMPO, TIMESIG, TRACK, VEL, GridGrammar
from seqgen.music.score import Note, Piece
from seqgen.tokenizer import register

#: Tempo levels: Maelzel's metronome marks, the tempi scores are written in.
TEMPI = [40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 63, 66, 69, 72, 76, 80, 84, 88, 92, 96, 100, 104,
         108, 112, 116, 120, 126, 132, 138, 144, 152, 160, 168, 176, 184, 192, 200, 208]
#: Longest bar a time-signature token may describe, in quarter notes.
MAX_BAR_QUARTERS = 16



def nearest_tempo(qpm: float) -> int:
    """The metronome mark closest to ``qpm`` (on a log scale: tempo is a ratio)."""
    if not qpm or qpm <= 0 or math.isnan(qpm):
        return 120
    return min(TEMPI, key=lambda t: abs(math.log(t / qpm)))


@register
class GridTokenizer(MusicTokenizer):
    """Bar / Position / Track / Pitch / Velocity / Duration events on a beat grid."""

    kind = "grid"
    fit_options = ("steps_per_quarter", "max_duration")

    #: 120 steps a quarter (8 * 3 * 5) hold 32nd notes, triplets and quintuplets at once; 64
    #: quarters is longer than any note. ``seqgen.config`` allows the same.
    SIZE_LIMITS = {"steps_per_quarter": 120, "max_duration_steps": 120 * 64}

    def __init__(self, steps_per_quarter: int = 12, max_duration_steps: int = 192,
                 tracks: list[dict[str, Any]] | None = None, time_signatures: Sequence[Sequence[int]] = ((4, 4),),
                 default_time_signature: Sequence[int] = (4, 4), default_tempo: int = 120,
                 default_velocity: int = 80) -> None:
        self.steps = int(steps_per_quarter)
        self.max_dur = int(max_duration_steps)
        meters = {tuple(m) for m in time_signatures if self._bar_steps_of(tuple(m)) is not None}
        meters.add((4, 4))
        self.meters: list[tuple[int, int]] = sorted(meters, key=lambda m: (m[0] / m[1], m))  # type: ignore[arg-type]
        default = tuple(default_time_signature)
        self.default_meter = default if default in meters else (4, 4)
        self.default_tempo = nearest_tempo(default_tempo)
        table = TrackTable(tracks or [])
        max_bar = max(self._bar_steps_of(m) or 0 for m in self.meters)
        spec: list[tuple[int, Any, str]] = [(PIECE, None, "Piece"), (END, None, "End"), (BAR, None, "Bar")]
        spec += [(TIMESIG, m, f"TimeSig_{m[0]}/{m[1]}") for m in self.meters]
        spec += [(TEMPO, t, f"Tempo_{t}") for t in TEMPI]
        spec += [(POS, i, f"Pos_{i}") for i in range(max_bar)]
        spec += [(TRACK, i, f"Track_{i}") for i in range(len(table))]
        spec += [(PITCH, p, f"Pitch_{p}") for p in range(128)]
        spec += [(VEL, v, f"Vel_{v}") for v in VELOCITIES]
        spec += [(DUR, d, f"Dur_{d}") for d in range(1, self.max_dur + 1)]
        super().__init__([name for _, _, name in spec], table, nearest_velocity(default_velocity))
        self.kinds = [k for k, _, _ in spec]
        self.values = [v for _, v, _ in spec]
        self.id = {(k, v): i for i, (k, v, _) in enumerate(spec)}

    def _bar_steps_of(self, meter: tuple[int, ...]) -> int | None:
        """Grid steps in a bar of ``meter``, or None when the grid or our limits cannot hold it."""
        if len(meter) != 2:
            return None
        num, den = int(meter[0]), int(meter[1])
        if num < 1 or den < 1 or den & (den - 1) or num * 4 > MAX_BAR_QUARTERS * den:
            return None
        steps = num * 4 * self.steps / den
        return int(steps) if steps == int(steps) else None

    # -- building --------------------------------------------------------------------------
    @classmethod
    def fit(cls, train_docs: Sequence[Piece], **options: Any) -> GridTokenizer:
        """Options: ``steps_per_quarter`` (12; 24 makes 32nd notes exact, 60 quintuplets),
        ``max_duration`` in quarters (16), ``max_tracks`` (64), ``written`` (the pieces before
        transposition, for the tracks' ranges: ``TrackTable.fit``); others are ignored."""
        steps = int(options.get("steps_per_quarter") or 12)
        max_quarters = float(options.get("max_duration") or 16)
        meters: Counter[tuple[int, int]] = Counter()
        starts: Counter[tuple[int, int]] = Counter()
        tempi: Counter[int] = Counter()
        velocities: Counter[int] = Counter()
        for piece in train_docs:
            starts[tuple(piece.time_signature)] += 1
            meters.update([tuple(piece.time_signature)] + [(n, d) for _, n, d in piece.time_signature_changes])
            tempi[nearest_tempo(piece.tempo_qpm)] += 1
            velocities.update(nearest_velocity(n.velocity) for t in piece.tracks for n in t.notes)
        return cls(
            steps_per_quarter=steps,
            max_duration_steps=max(1, round(max_quarters * steps)),
            tracks=TrackTable.fit(train_docs, int(options.get("max_tracks") or MAX_TRACKS),
                                  options.get("written")).tracks,
            time_signatures=sorted(meters),
            default_time_signature=starts.most_common(1)[0][0] if starts else (4, 4),
            default_tempo=tempi.most_common(1)[0][0] if tempi else 120,
            default_velocity=velocities.most_common(1)[0][0] if velocities else 80,
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "steps_per_quarter": self.steps,
            "max_duration_steps": self.max_dur,
            "tracks": [dict(t) for t in self.tracks.tracks],
            "time_signatures": [list(m) for m in self.meters],
            "default_time_signature": list(self.default_meter),
            "default_tempo": self.default_tempo,
            "default_velocity": self.default_velocity,
        }

    def grammar(self, start_ids: Sequence[int], num_samples: int = 1, bars: float = 0.0, offset: float = 0.0,
                meter: Sequence[int] | None = None, controls: Controls | None = None,
                seconds: float = 0.0) -> GridGrammar:
        """See ``seqgen.music.grammar``; ``seconds`` are counted by ``sample_music``, not here."""
        tempo = nearest_tempo(controls.tempo) if controls and controls.tempo else None
        return GridGrammar(self, start_ids, num_samples, bars=bars, offset=offset, meter=meter, controls=controls,
                           tempo=tempo)

    # -- encoding --------------------------------------------------------------------------
    def _meter(self, meter: Sequence[int]) -> tuple[int, int] | None:
        m = (int(meter[0]), int(meter[1])) if len(meter) == 2 else None
        return m if (TIMESIG, m) in self.id else None

    def encode(self, doc: Piece, end: bool = True) -> list[int]:
        res, tid = self.steps, self.id
        meter = self._meter(doc.time_signature) or self.default_meter
        meter_changes = [(round(q * res), m) for q, n, d in sorted(doc.time_signature_changes)
                         if (m := self._meter((n, d))) is not None]
        tempo = nearest_tempo(doc.tempo_qpm)
        events: list[tuple] = []
        last = tempo
        for q, qpm in doc.tempo_map()[1:]:
            t = nearest_tempo(qpm)
            if t != last:
                events.append((max(0, round(q * res)), 0, t))
                last = t
        for position, track in enumerate(doc.tracks):
            slot = self.tracks.slot(track, position)
            for n in track.notes:
                if 0 <= n.pitch <= 127:
                    on = max(0, round(n.start * res))
                    dur = min(max(round(n.end * res) - on, 1), self.max_dur)
                    events.append((on, 1, slot, int(n.pitch), dur, nearest_velocity(n.velocity)))
        events.sort()

        ids = [tid[(PIECE, None)], tid[(TIMESIG, meter)], tid[(TEMPO, tempo)]]
        i = 0
        track = velocity = None
        for bar_start, bar_end, new in self._bars(doc, meter, meter_changes, events[-1][0] if events else -1):
            ids.append(tid[(BAR, None)])
            if new != meter:
                ids.append(tid[(TIMESIG, new)])
                meter = new
            pos = None
            while i < len(events) and events[i][0] < bar_end:
                e = events[i]
                if e[0] - bar_start != pos:
                    pos = e[0] - bar_start
                    ids.append(tid[(POS, pos)])
                if e[1] == 0:
                    ids.append(tid[(TEMPO, e[2])])
                else:
                    _, _, slot, pitch, dur, vel = e
                    if slot != track:
                        ids.append(tid[(TRACK, slot)])
                        track = slot
                    ids.append(tid[(PITCH, pitch)])
                    if vel != velocity:
                        ids.append(tid[(VEL, vel)])
                        velocity = vel
                    ids.append(tid[(DUR, dur)])
                i += 1
            if i < len(events) and bar_end - bar_start < self._bar_steps_of(meter):  # type: ignore[operator]
                ids.append(tid[(POS, bar_end - bar_start)])  # a short bar states its length
        if end:
            ids.append(tid[(END, None)])
        return ids

    def _bars(self, doc: Piece, meter: tuple[int, int], meter_changes: list[tuple[int, tuple[int, int]]],
              last: int) -> list[tuple[int, int, tuple[int, int]]]:
        """``(start, end, meter)`` in steps of each bar up to the one holding step ``last``.

        Bars start at the piece's own bar starts; a bar longer than its meter is split where the
        meter ends (Pos tokens stop there). Notes beyond the last bar start of ``doc.bars`` go
        into further bars of the meter in force, as for a piece without bars (MIDI files).
        """
        res = self.steps
        own = sorted({round(q * res) for q in doc.bars if q > 0})
        bars, start, ci = [], 0, 0
        while start <= last:
            while ci < len(meter_changes) and meter_changes[ci][0] <= start:
                meter = meter_changes[ci][1]
                ci += 1
            end = start + self._bar_steps_of(meter)  # type: ignore[operator]
            k = bisect.bisect_right(own, start)
            if k < len(own):
                end = min(end, own[k])
            bars.append((start, end, meter))
            start = end
        return bars

    # -- decoding --------------------------------------------------------------------------
    def decode(self, ids: Sequence[int], strict: bool = False) -> Piece:
        """Any ids -> a Piece. Reads one piece: stops at ``End`` or at a ``Piece`` after content.
        Ids outside the vocabulary, positions past the bar's end and pitches without a duration
        are skipped; a time signature met mid-bar takes effect at the next bar. A bare ``Pos``
        right before a ``Bar`` ends that bar there; the bar starts read go to ``Piece.bars``.

        ``strict`` raises ``ValueError`` (with the token's index) instead of skipping, delaying or
        stacking anything: an id outside the vocabulary, a ``Pos`` outside the bar or not after
        the bar's last one, a ``Pitch`` whose ``Dur`` never comes or a ``Dur`` without one, a
        mid-bar ``TimeSig``, a ``Bar`` after a bare ``Pos_0`` or anything after ``End``."""
        def bad(index: int, why: str) -> None:
            if strict:
                raise ValueError(f"token {index} ({self.names[int(ids[index])] if 0 <= int(ids[index]) < n_ids else ids[index]}): {why}")

        res, kinds, values, n_ids = self.steps, self.kinds, self.values, len(self.names)
        head_meter = meter = next_meter = self.default_meter
        meters: dict[int, tuple[int, int]] = {}
        tempi: dict[int, int] = {}
        head_tempo = self.default_tempo
        bar_start: int | None = None
        bar_starts: list[int] = []
        pos, pos_in_bar, bare_pos, started = 0, False, False, False
        track, velocity, pitch = 0, self.default_velocity, None
        notes: dict[int, list[Note]] = defaultdict(list)
        last_pos = -1
        for index, raw in enumerate(ids):
            i = int(raw)
            if not 0 <= i < n_ids:
                bad(index, "not in the vocabulary")
                continue
            kind, value = kinds[i], values[i]
            if pitch is not None and kind not in (VEL, DUR):
                bad(index, "the pitch before it has no duration")
            if kind in (PIECE, END):
                if kind == PIECE and index > 0:
                    bad(index, "a second Piece")
                if kind == END and index < len(ids) - 1:
                    bad(index + 1, "after End")
                if started:
                    break
            elif kind == TIMESIG:
                if bar_start is None:
                    head_meter = meter = next_meter = value
                elif not pos_in_bar:
                    meters[bar_start] = meter = next_meter = value
                else:
                    bad(index, "a time signature inside a bar")
                    next_meter = value
            elif kind == TEMPO:
                if bar_start is None:
                    head_tempo = value
                else:
                    tempi[bar_start + pos] = value
                    bare_pos = False
            elif kind == BAR:
                if bare_pos and pos == 0:
                    bad(index, "a bar after a bare Pos_0 (ignored)")
                if bar_start is None:
                    bar_start = 0
                else:
                    bar_start += pos if bare_pos and pos > 0 else self._bar_steps_of(meter)  # type: ignore[operator]
                    if next_meter != meter:
                        meters[bar_start] = meter = next_meter
                bar_starts.append(bar_start)
                pos, pos_in_bar, bare_pos, started, last_pos = 0, False, False, True, -1
            elif kind == TRACK:
                track = value
            elif kind == VEL:
                velocity = value
            elif kind in (POS, PITCH):
                if bar_start is None:
                    bar_start, started = 0, True
                    bar_starts.append(0)
                if kind == PITCH:
                    pitch, bare_pos = value, False
                elif value < self._bar_steps_of(meter):  # type: ignore[operator]
                    if value <= last_pos:
                        bad(index, f"position not after the bar's last one ({last_pos})")
                    pos, pos_in_bar, bare_pos, last_pos = value, True, True, value
                else:
                    bad(index, "position past the end of the bar")
            elif kind == DUR and pitch is None:
                bad(index, "a duration without a pitch")
            elif kind == DUR:
                notes[track].append(Note(pitch, (bar_start + pos) / res, value / res, velocity))  # type: ignore[operator]
                pitch = None
        first_meter = meters.pop(0, head_meter)
        tempo = tempi.pop(0, head_tempo)
        return Piece(
            tracks=self.tracks.make_tracks(notes),
            tempo_qpm=float(tempo),
            time_signature=first_meter,
            tempo_changes=[(s / res, float(t)) for s, t in _changes(tempi, tempo)],
            time_signature_changes=[(s / res, m[0], m[1]) for s, m in _changes(meters, first_meter)],
            bars=[s / res for s in bar_starts],
        )


def _changes(at: dict[int, Any], initial: Any) -> list[tuple[int, Any]]:
    """Sorted ``(step, value)`` changes, leaving out those that change nothing."""
    out, last = [], initial
    for step, value in sorted(at.items()):
        if value != last:
            out.append((step, value))
            last = value
    return out
