"""``performance``: Magenta Performance RNN events, for expressive MIDI (timing in seconds).

``NoteOn_p`` / ``NoteOff_p`` (128 each), ``Shift_n`` (n = 10 .. 1000 ms in 10 ms steps) and
``Vel_v`` (32 levels) make Performance RNN's 388 events; ``Track_n`` switches the track the next
note events belong to (multi-instrument files), and ``Piece`` / ``End`` delimit pieces::

    Piece Track_0 Vel_80 NoteOn_60 NoteOn_64 Shift_500 NoteOff_60 NoteOff_64 ...

Time is absolute (seconds), not beats, so rubato and micro-timing survive but metre is not in
the tokens: a decoded piece is written in the corpus's usual tempo and time signature (the
commonest of the train pieces, kept in the codec's state), and a continuation takes its
primer's (:meth:`~seqgen.music.codecs.MusicTokenizer.with_tempo_of` keeps the seconds).
"""

from __future__ import annotations

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
from seqgen.music.event_grammar import PerformanceGrammar
from seqgen.music.score import Note, Piece
from seqgen.tokenizer import register

PIECE, END, TRACK, ON, OFF, SHIFT, VEL = range(7)
#: Longest note a decoded piece holds, in seconds (Magenta's ``MAX_NOTE_DURATION_SECONDS``): a
#: generated NoteOn whose NoteOff never comes would otherwise ring to the end of the piece.
MAX_NOTE_SECONDS = 5.0


@register
class PerformanceTokenizer(MusicTokenizer):
    """NoteOn / NoteOff / TimeShift / Velocity (+ Track) events on a 10 ms clock."""

    kind = "performance"
    timebase = "seconds"
    fit_options = ("max_shift",)
    version = 2  # 2: the corpus's usual tempo and meter in the state


    #: Millisecond steps at most, and shifts of at most 10 s.
    SIZE_LIMITS = {"steps_per_second": 1000, "max_shift_steps": 10_000}

    def __init__(self, steps_per_second: int = 100, max_shift_steps: int = 100,
                 tracks: list[dict[str, Any]] | None = None, default_velocity: int = 80,
                 default_tempo: float = 120.0, default_time_signature: Sequence[int] = (4, 4)) -> None:
        self.rate = int(steps_per_second)
        self.default_tempo = float(default_tempo) if 20 <= float(default_tempo) <= 300 else 120.0
        meter = tuple(int(x) for x in default_time_signature)
        self.default_meter = meter if len(meter) == 2 and min(meter) >= 1 else (4, 4)
        self.max_shift = int(max_shift_steps)
        self.tolerance = 0.5 / self.rate + 1e-9
        table = TrackTable(tracks or [])
        ms = 1000 / self.rate
        spec: list[tuple[int, Any, str]] = [(PIECE, None, "Piece"), (END, None, "End")]
        spec += [(TRACK, i, f"Track_{i}") for i in range(len(table))]
        spec += [(ON, p, f"NoteOn_{p}") for p in range(128)]
        spec += [(OFF, p, f"NoteOff_{p}") for p in range(128)]
        spec += [(SHIFT, s, f"Shift_{s * ms:g}ms") for s in range(1, self.max_shift + 1)]
        spec += [(VEL, v, f"Vel_{v}") for v in VELOCITIES]
        super().__init__([name for _, _, name in spec], table, nearest_velocity(default_velocity))
        self.kinds = [k for k, _, _ in spec]
        self.values = [v for _, v, _ in spec]
        self.id = {(k, v): i for i, (k, v, _) in enumerate(spec)}

    @classmethod
    def fit(cls, train_docs: Sequence[Piece], **options: Any) -> PerformanceTokenizer:
        """Options: ``steps_per_second`` (100), ``max_shift`` in seconds (1.0), ``max_tracks``
        (64), ``written`` (as for ``GridTokenizer.fit``); others are ignored. The commonest tempo
        (to a tenth of a qpm) and time signature of the pieces become those of decoded pieces."""
        rate = int(options.get("steps_per_second") or 100)
        max_shift = float(options.get("max_shift") or 1.0)
        velocities = Counter(nearest_velocity(n.velocity) for p in train_docs for t in p.tracks for n in t.notes)
        tempi = Counter(round(p.tempo_qpm, 1) for p in train_docs)
        meters = Counter(tuple(p.time_signature) for p in train_docs)
        return cls(
            steps_per_second=rate,
            max_shift_steps=max(1, round(max_shift * rate)),
            tracks=TrackTable.fit(train_docs, int(options.get("max_tracks") or MAX_TRACKS),
                                  options.get("written")).tracks,
            default_velocity=velocities.most_common(1)[0][0] if velocities else 80,
            default_tempo=tempi.most_common(1)[0][0] if tempi else 120.0,
            default_time_signature=meters.most_common(1)[0][0] if meters else (4, 4),
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "steps_per_second": self.rate,
            "max_shift_steps": self.max_shift,
            "tracks": [dict(t) for t in self.tracks.tracks],
            "default_velocity": self.default_velocity,
            "default_tempo": self.default_tempo,
            "default_time_signature": list(self.default_meter),
        }

    def grammar(self, start_ids: Sequence[int], num_samples: int = 1, bars: float = 0.0, offset: float = 0.0,
                meter: Sequence[int] | None = None, controls: Controls | None = None,
                seconds: float = 0.0) -> PerformanceGrammar:
        """See ``seqgen.music.event_grammar``: time is in seconds here, so ``bars``, ``offset`` and
        ``meter`` do not apply; ``seconds`` count from where ``start_ids`` end."""
        return PerformanceGrammar(self, start_ids, num_samples, seconds=seconds, controls=controls)

    # -- encoding --------------------------------------------------------------------------
    def _note_events(self, doc: Piece) -> list[tuple[int, int, int, int, int]]:
        """``(step, 0=off|1=on, slot, pitch, velocity)``, offs before ons at the same step.

        Notes of one pitch on one slot may not overlap (NoteOff could not say which one ends):
        the earlier is cut where the later starts, as pretty_midi and a piano would do.
        """
        by_key: dict[tuple[int, int], list[tuple[int, int, int]]] = defaultdict(list)
        seconds = doc.to_seconds()
        for position, track in enumerate(doc.tracks):
            slot = self.tracks.slot(track, position)
            for n in track.notes:
                if 0 <= n.pitch <= 127:
                    on = max(0, round(seconds(n.start) * self.rate))
                    off = max(on + 1, round(seconds(n.end) * self.rate))
                    by_key[(slot, int(n.pitch))].append((on, off, nearest_velocity(n.velocity)))
        events = []
        for (slot, pitch), notes in by_key.items():
            notes.sort()
            for i, (on, off, vel) in enumerate(notes):
                if i + 1 < len(notes) and notes[i + 1][0] < off:
                    off = notes[i + 1][0]
                    if off <= on:
                        continue  # struck twice at once: the later note stands
                events.append((on, 1, slot, pitch, vel))
                events.append((off, 0, slot, pitch, 0))
        events.sort()
        return events

    def encode(self, doc: Piece, end: bool = True) -> list[int]:
        tid = self.id
        ids = [tid[(PIECE, None)]]
        now, track, velocity = 0, None, None
        for step, is_on, slot, pitch, vel in self._note_events(doc):
            while step > now:
                shift = min(step - now, self.max_shift)
                ids.append(tid[(SHIFT, shift)])
                now += shift
            if slot != track:
                ids.append(tid[(TRACK, slot)])
                track = slot
            if is_on:
                if vel != velocity:
                    ids.append(tid[(VEL, vel)])
                    velocity = vel
                ids.append(tid[(ON, pitch)])
            else:
                ids.append(tid[(OFF, pitch)])
        if end:
            ids.append(tid[(END, None)])
        return ids

    # -- decoding --------------------------------------------------------------------------
    def decode(self, ids: Sequence[int]) -> Piece:
        """Any ids -> a Piece in the corpus's usual tempo and meter. Reads one piece (stops at ``End`` or a ``Piece`` after
        content). A NoteOn of a sounding pitch ends it first; a NoteOff of a silent pitch and ids
        outside the vocabulary are skipped; zero-length notes are dropped; notes still sounding
        at the end are closed there. No note lasts longer than ``MAX_NOTE_SECONDS``."""
        kinds, values, n_ids = self.kinds, self.values, len(self.names)
        now, track, velocity, started = 0, 0, self.default_velocity, False
        sounding: dict[tuple[int, int], tuple[int, int]] = {}
        notes: dict[int, list[Note]] = defaultdict(list)
        scale = self.default_tempo / 60 / self.rate  # quarters per step
        longest = max(1, round(MAX_NOTE_SECONDS * self.rate))  # in steps

        def close(key: tuple[int, int]) -> None:
            start, vel = sounding.pop(key)
            if now > start:
                notes[key[0]].append(Note(key[1], start * scale, min(now - start, longest) * scale, vel))

        for raw in ids:
            i = int(raw)
            if not 0 <= i < n_ids:
                continue
            kind, value = kinds[i], values[i]
            if kind in (PIECE, END):
                if started:
                    break
            elif kind == SHIFT:
                now += value
                started = True
            elif kind == TRACK:
                track = value
            elif kind == VEL:
                velocity = value
            elif kind == ON:
                started = True
                if (track, value) in sounding:
                    close((track, value))
                sounding[(track, value)] = (now, velocity)
            elif kind == OFF and (track, value) in sounding:
                close((track, value))
        for key in list(sounding):
            close(key)
        return Piece(tracks=self.tracks.make_tracks(notes), tempo_qpm=self.default_tempo,
                     time_signature=self.default_meter)  # type: ignore[arg-type]
