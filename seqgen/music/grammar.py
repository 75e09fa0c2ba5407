"""Constrained decoding: which token may come next, so every sampled token means something.

A grammar follows each sample's ids from the seed or primer on and answers ``allowed(i)``, a
boolean mask over the vocabulary, which ``seqgen.sampler.generate`` applies before drawing.
``GridGrammar`` is the grammar the ``grid`` encoder writes (see ``GridTokenizer.encode``)::

    Piece TimeSig Tempo ( Bar [TimeSig] ( Pos ( Tempo | [Track] Pitch [Vel] Dur )* )* [Pos] )* [End]

with these rules on values: a ``TimeSig`` after a ``Bar`` changes the meter; ``Pos`` rises within
a bar and stays inside the bar's length in the meter in force; a position holds at most one
``Tempo``, before its notes; ``Track`` and ``Vel`` are stated only when they change (so the first
note states both); a ``Pos`` with nothing after it (a short bar) is followed by ``Bar``; ``End``
comes after a whole header, note or tempo change, never after an empty trailing bar. Durations and
velocities are bounded by the vocabulary itself (``Dur_1`` .. ``Dur_max``).

With ``bars``, ``End`` is masked, no onset may fall at or after the end of the requested bars
(counted from ``offset``, in the meter in force there, the point where ``sample_music`` cuts the
piece), and a sample is ``done`` once a note sounds across that line: the piece is then exactly
that long.

``Controls`` (``seqgen.music.controls``) narrow it: a requested meter is the header's and no bar
changes it; the header's tempo is the one nearest the requested tempo (else the corpus's usual
one, ``GridTokenizer.default_tempo``) and with a requested tempo no change follows; and
``PitchRules`` keep each track's new notes in the key, in the track's fitted range and within its
fitted polyphony (a track never starts a note while it sounds as many as it may; a ``Pos`` is
drawn only where some track may start one). Single-line voices move in no parallel fifths or
octaves and do not cross, unless the controls free them (``seqgen.music.voice_leading``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from seqgen.errors import SeqgenError
from seqgen.music.controls import Controls, PitchRules
from seqgen.music.voice_leading import Note, crossing_pitches, parallel_pitches, remember

if TYPE_CHECKING:
    from seqgen.music.grid import GridTokenizer

#: The kinds of token in the grid vocabulary (``GridTokenizer.kinds``).
PIECE, END, BAR, TIMESIG, TEMPO, POS, TRACK, PITCH, VEL, DUR = range(10)

# Where a sample is in the grammar: what its last token was.
START, HEAD_PIECE, HEAD_SIG, HEAD, BAR_OPEN, BAR_SIG, AT_POS, AT_TEMPO, AT_TRACK, AT_PITCH, AT_VEL, AT_DUR, ENDED = range(13)


@dataclass
class _State:
    phase: int = START
    meter: tuple[int, int] = (4, 4)
    next_meter: tuple[int, int] | None = None  # a TimeSig met mid-bar (only in replayed ids)
    bar_start: int | None = None  # in grid steps
    pos: int = -1  # last Pos in the bar, -1 before any
    bare: bool = False  # the last Pos has nothing after it yet
    track: int | None = None
    velocity: int | None = None
    pitch: int | None = None
    end_step: int | None = None  # with bars: where the requested bars end
    reached: bool = False  # with bars: a note sounds across end_step
    ends: dict[int, list[int]] = field(default_factory=dict)  # track -> end steps of notes sounding
    sung: dict[int, list[Note]] = field(default_factory=dict)  # single-line voice -> its recent notes


class GridGrammar:
    """Per-sample state of the grid grammar, with ``allowed``/``advance`` for the sampler."""

    def __init__(self, codec: GridTokenizer, start_ids: Sequence[int], num_samples: int = 1,
                 bars: float = 0.0, offset: float = 0.0, meter: Sequence[int] | None = None,
                 controls: Controls | None = None, tempo: int | None = None) -> None:
        self.codec = codec
        self.vocab = len(codec.names)
        self.first = {k: codec.kinds.index(k) for k in set(codec.kinds)}
        self.count = {k: codec.kinds.count(k) for k in set(codec.kinds)}
        self.bars = float(bars)
        self.offset_steps = round(offset * codec.steps)
        self.meter_hint = tuple(meter) if meter else None  # type: ignore[assignment]
        controls = controls or Controls()
        self.meter = controls.meter
        if self.meter is not None and (TIMESIG, self.meter) not in codec.id:
            known = ", ".join(f"{n}/{d}" for n, d in codec.meters)
            raise SeqgenError(f"this model knows no {self.meter[0]}/{self.meter[1]} bars; its meters are {known}")
        self.tempo = codec.id[(TEMPO, tempo or codec.default_tempo)]  # the header's: a tempo token's value
        self.tempo_changes = controls.tempo is None
        self.rules = PitchRules(codec.tracks, controls.key)
        self.playable = [slot for slot in range(self.count.get(TRACK, 0)) if self.rules.playable(slot)]
        # Voices that sing one note at a time: no parallel fifths or octaves, no crossing, unless freed.
        self.voices = [slot for slot in codec.tracks.voices()  # top voice first
                       if slot in self.playable and self.rules.polyphony[slot] == 1
                       and not codec.tracks.tracks[slot]["is_drum"]]
        self.voice_leading = controls.voice_leading
        state = _State(meter=codec.default_meter)
        for token in start_ids:
            self._advance(state, int(token))
        self.states = [_copy(state) for _ in range(num_samples)]

    # -- the sampler's interface -----------------------------------------------------------
    def allowed(self, sample_index: int) -> Tensor:
        """A (vocab,) boolean mask of the tokens that may come next in sample ``sample_index``."""
        s = self.states[sample_index]
        mask = torch.zeros(self.vocab, dtype=torch.bool)
        phase = s.phase
        if phase == START:
            self._allow(mask, PIECE)
        elif phase == HEAD_PIECE:
            if self.meter is None:
                self._allow(mask, TIMESIG)
            else:
                mask[self.codec.id[(TIMESIG, self.meter)]] = True
        elif phase == HEAD_SIG:
            mask[self.tempo] = True
        elif phase == HEAD:
            self._allow(mask, BAR)
            self._allow_end(mask, s)
        elif phase in (BAR_OPEN, BAR_SIG):
            if phase == BAR_OPEN and self.meter is None:
                self._allow(mask, TIMESIG, but=(TIMESIG, s.meter))
            self._allow_pos(mask, s, 0)
            self._allow_bar(mask, s)
        elif phase == AT_POS:
            if self.tempo_changes:
                self._allow(mask, TEMPO)
            self._allow_note(mask, s)
            if s.pos > 0:
                self._allow_bar(mask, s)  # a short bar
        elif phase in (AT_TEMPO, AT_DUR):
            self._allow_note(mask, s)
            self._allow_pos(mask, s, s.pos + 1)
            self._allow_bar(mask, s)
            self._allow_end(mask, s)
        elif phase == AT_TRACK:
            self._allow_pitch(mask, s)
        elif phase == AT_PITCH:
            self._allow(mask, VEL, but=(VEL, s.velocity))
            if s.velocity is not None:
                self._allow(mask, DUR)
        elif phase == AT_VEL:
            self._allow(mask, DUR)
        else:  # ENDED: pad with End while the other samples go on
            self._allow(mask, END)
        return mask

    def advance(self, sample_index: int, token: int) -> None:
        """Move sample ``sample_index`` past ``token``."""
        self._advance(self.states[sample_index], int(token))

    def done(self, sample_index: int) -> bool:
        """Whether the sample has ended (its ``End``) or, with ``bars``, reached its length."""
        s = self.states[sample_index]
        return s.phase == ENDED or self._reached(s)

    # -- rules -----------------------------------------------------------------------------
    def _allow(self, mask: Tensor, kind: int, but: tuple[int, object] | None = None) -> None:
        first = self.first.get(kind)
        if first is None:
            return
        mask[first: first + self.count[kind]] = True
        if but is not None and but in self.codec.id:
            mask[self.codec.id[but]] = False

    def _allow_pos(self, mask: Tensor, s: _State, lo: int) -> None:
        hi = min(self.codec._bar_steps_of(s.meter) or 0, self.count.get(POS, 0))
        free = min((self.rules.free_from(t, s.ends.get(t, [])) for t in self.playable), default=0)
        lo = max(lo, free - s.bar_start)  # type: ignore[operator]  # a Pos only where a note may start
        if self._limited(s):  # with bars: no onset at or past their end until a note reaches it
            hi = min(hi, s.end_step - s.bar_start)  # type: ignore[operator]
        if lo < hi:
            mask[self.first[POS] + lo: self.first[POS] + hi] = True

    def _allow_bar(self, mask: Tensor, s: _State) -> None:
        if self._limited(s):
            following = s.bar_start + (s.pos if s.bare and s.pos > 0 else self._bar_steps(s.meter))  # type: ignore[operator]
            if following >= s.end_step:  # type: ignore[operator]
                return
        self._allow(mask, BAR)

    def _limited(self, s: _State) -> bool:
        """Whether the requested bars bound onsets now (they are known, not yet filled, and the
        bar in hand starts before their end, so there is always somewhere to go)."""
        return (bool(self.bars) and not s.reached and s.end_step is not None and s.bar_start is not None
                and s.bar_start < s.end_step)

    def _allow_note(self, mask: Tensor, s: _State) -> None:
        """A note at the position in hand: a change to a track free to start one, or a pitch of
        the track in force if it is free."""
        onset = (s.bar_start or 0) + max(s.pos, 0)
        first = self.first.get(TRACK, 0)
        for slot in self.playable:
            if self.rules.free_from(slot, s.ends.get(slot, [])) <= onset:
                if slot == s.track:
                    self._allow_pitch(mask, s)
                else:
                    mask[first + slot] = True

    def _allow_pitch(self, mask: Tensor, s: _State) -> None:
        first = self.first[PITCH]
        pitches = self.rules.pitches[s.track]  # type: ignore[index]
        if self.voice_leading and s.track in self.voices:
            onset = (s.bar_start or 0) + max(s.pos, 0)
            for refused in (parallel_pitches(s.sung, s.track, onset),  # type: ignore[arg-type]
                            crossing_pitches(s.sung, s.track, onset, self.voices)):  # type: ignore[arg-type]
                narrowed = pitches & ~refused
                pitches = narrowed if narrowed.any() else pitches
        mask[first: first + 128] = pitches

    def _allow_end(self, mask: Tensor, s: _State) -> None:
        if not self.bars or self._reached(s):
            mask[self.codec.id[(END, None)]] = True

    def _reached(self, s: _State) -> bool:
        return bool(self.bars) and s.reached

    def _bar_steps(self, meter: tuple[int, int]) -> int:
        return self.codec._bar_steps_of(meter) or 4 * self.codec.steps

    def _advance(self, s: _State, token: int) -> None:
        """Follow ``token`` as ``GridTokenizer.decode`` reads it (lenient: replayed primers too)."""
        if not 0 <= token < self.vocab or s.phase == ENDED:
            return
        kind, value = self.codec.kinds[token], self.codec.values[token]
        if kind == PIECE:
            s.phase = HEAD_PIECE if s.phase == START else s.phase
        elif kind == END:
            s.phase = ENDED
        elif kind == TIMESIG:
            if s.bar_start is None:
                s.meter, s.phase = value, HEAD_SIG
            elif s.phase == BAR_OPEN:
                s.meter, s.phase = value, BAR_SIG
                self._note_offset_meter(s)
            else:
                s.next_meter = value
        elif kind == TEMPO:
            s.phase = HEAD if s.bar_start is None else AT_TEMPO
            s.bare = False
        elif kind == BAR:
            if s.bar_start is None:
                s.bar_start = 0
            else:
                s.bar_start += s.pos if s.bare and s.pos > 0 else self._bar_steps(s.meter)
                if s.next_meter is not None:
                    s.meter, s.next_meter = s.next_meter, None
            s.phase, s.pos, s.bare, s.pitch = BAR_OPEN, -1, False, None
            self._note_offset_meter(s)
        elif kind == POS:
            self._open_first_bar(s)
            s.pos, s.bare, s.phase = value, True, AT_POS
        elif kind == TRACK:
            s.track, s.phase = value, AT_TRACK
        elif kind == PITCH:
            self._open_first_bar(s)
            s.pitch, s.bare, s.phase = value, False, AT_PITCH
        elif kind == VEL:
            s.velocity, s.phase = value, AT_VEL
        elif kind == DUR:
            if s.pitch is not None:
                onset = (s.bar_start or 0) + max(s.pos, 0)
                if s.end_step is not None and onset < s.end_step <= onset + value:
                    s.reached = True
                if s.track is not None:  # what still sounds from here on, for the polyphony rule
                    s.ends[s.track] = [e for e in s.ends.get(s.track, []) if e > onset] + [onset + value]
                if s.track in self.voices:
                    s.sung[s.track] = remember(s.sung.get(s.track, []), (onset, onset + value, s.pitch))
                s.pitch = None
            s.phase = AT_DUR

    def _open_first_bar(self, s: _State) -> None:
        """A position or note before any ``Bar`` (the lenient decoder allows it) starts bar one."""
        if s.bar_start is None:
            s.bar_start = 0
            self._note_offset_meter(s)

    def _note_offset_meter(self, s: _State) -> None:
        """With ``bars``: fix where they end once the meter at ``offset`` is known (the bar that
        holds the offset has begun and its time signature, if any, is read)."""
        if not self.bars or s.bar_start is None:
            return
        meter = self.meter_hint or s.meter
        if self.meter_hint is None and not s.bar_start <= self.offset_steps < s.bar_start + self._bar_steps(s.meter):
            return
        if s.end_step is None or self.meter_hint is None:
            num, den = meter
            s.end_step = self.offset_steps + round(self.bars * num * 4 / den * self.codec.steps)


def _copy(s: _State) -> _State:
    return _State(**{**vars(s), "ends": {t: list(e) for t, e in s.ends.items()},
                     "sung": {t: list(n) for t, n in s.sung.items()}})
