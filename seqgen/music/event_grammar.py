"""Constrained decoding for the ``performance`` codec: only events ``PerformanceTokenizer.encode``
could have written are drawn, so decoding never skips or guesses.

The encoder writes ``Piece`` then, step by step, the note-offs due, then the note-ons, with
``Shift`` tokens between steps, and ``End`` once every note is off::

    Piece ( Shift | Track ( NoteOff | [Vel] NoteOn ) ... )* [End]

with these rules on values: ``Track`` and ``Vel`` are stated only when they change (the first
note states both) and a ``Vel`` is followed by its ``NoteOn``; ``NoteOff_p`` ends a pitch sounding
on the track in force and ``NoteOn_p`` starts one that is not; after a note-on, the next note-off
waits for a ``Shift`` (no zero-length notes, offs first in a step); ``End`` only when nothing
sounds. Shifts are bounded by the vocabulary (``Shift_10ms`` .. the codec's longest).

As the grid grammar, it takes ``PitchRules`` (``seqgen.music.controls``): note-ons keep to the
key and the track's range, and a track never sounds more notes than its polyphony. With
``seconds``, ``End`` is masked and a sample is done once its clock passes that many seconds after
where its start ids end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from seqgen.music.controls import Controls, PitchRules

if TYPE_CHECKING:
    from seqgen.music.performance import PerformanceTokenizer

#: Token kinds of the performance vocabulary (``PerformanceTokenizer.kinds``).
PIECE, END, TRACK, ON, OFF, SHIFT, VEL = range(7)


@dataclass
class _State:
    started: bool = False  # Piece read
    ended: bool = False
    now: int = 0  # clock, in codec steps
    track: int | None = None
    velocity: int | None = None
    after: int | None = None  # kind of the last token when it binds what follows (TRACK or VEL)
    struck: bool = False  # a note-on came at this step: note-offs wait for the next Shift
    sounding: dict[int, set[int]] = field(default_factory=dict)  # track -> pitches sounding

    def copy(self) -> _State:
        return _State(self.started, self.ended, self.now, self.track, self.velocity, self.after, self.struck,
                      {t: set(p) for t, p in self.sounding.items()})


class PerformanceGrammar:
    """Per-sample state of the performance grammar, with ``allowed``/``advance``/``done``."""

    def __init__(self, codec: PerformanceTokenizer, start_ids: Sequence[int], num_samples: int = 1,
                 seconds: float = 0.0, controls: Controls | None = None) -> None:
        self.codec = codec
        self.vocab = len(codec.names)
        self.first = {k: codec.kinds.index(k) for k in set(codec.kinds)}
        self.count = {k: codec.kinds.count(k) for k in set(codec.kinds)}
        self.rules = PitchRules(codec.tracks, (controls or Controls()).key)
        self.playable = [set(torch.nonzero(m).flatten().tolist()) for m in self.rules.pitches]
        state = _State()
        for token in start_ids:
            self._advance(state, int(token))
        self.end_step = state.now + round(seconds * codec.rate) if seconds else None
        self.states = [state.copy() for _ in range(num_samples)]

    def allowed(self, sample_index: int) -> Tensor:
        """A (vocab,) boolean mask of the tokens that may come next in sample ``sample_index``."""
        s = self.states[sample_index]
        mask = torch.zeros(self.vocab, dtype=torch.bool)
        if s.ended:
            mask[self.first[END]] = True
        elif not s.started:
            mask[self.first[PIECE]] = True
        elif s.after == VEL:
            self._allow_on(mask, s)
        else:
            if s.after != TRACK:
                mask[self.first[SHIFT]: self.first[SHIFT] + self.count[SHIFT]] = True
                for slot in range(self.count.get(TRACK, 0)):
                    if slot != s.track and ((s.sounding.get(slot) and not s.struck) or self._may_start(s, slot)):
                        mask[self.first[TRACK] + slot] = True
                if not any(s.sounding.values()) and self.end_step is None:
                    mask[self.first[END]] = True
            if s.track is not None:
                if not s.struck:  # offs come before ons within a step
                    for pitch in s.sounding.get(s.track, ()):
                        mask[self.first[OFF] + pitch] = True
                if self._may_start(s, s.track):
                    self._allow_on(mask, s)
                    mask[self.first[VEL]: self.first[VEL] + self.count[VEL]] = True
                    if s.velocity is not None:
                        mask[self.codec.id[(VEL, s.velocity)]] = False
        return mask

    def advance(self, sample_index: int, token: int) -> None:
        self._advance(self.states[sample_index], int(token))

    def done(self, sample_index: int) -> bool:
        """Whether the sample has ended, or (with ``seconds``) its clock has reached their end."""
        s = self.states[sample_index]
        return s.ended or (self.end_step is not None and s.now >= self.end_step)

    def _may_start(self, s: _State, slot: int) -> bool:
        """Whether a note-on may come on ``slot``: it has a pitch to play and room under its
        polyphony (a velocity must be stated first when none is, which ``allowed`` offers)."""
        most = self.rules.polyphony[slot]
        sounding = s.sounding.get(slot, set())
        return len(self.playable[slot]) > len(self.playable[slot] & sounding) and (most is None or len(sounding) < most)

    def _allow_on(self, mask: Tensor, s: _State) -> None:
        if s.velocity is None:
            return  # the first note-on states its velocity
        first = self.first[ON]
        mask[first: first + 128] = self.rules.pitches[s.track]  # type: ignore[index]
        for pitch in s.sounding.get(s.track, ()):  # type: ignore[arg-type]
            mask[first + pitch] = False

    def _advance(self, s: _State, token: int) -> None:
        """Follow ``token`` as ``PerformanceTokenizer.decode`` reads it (lenient: replayed primers too)."""
        if not 0 <= token < self.vocab or s.ended:
            return
        kind, value = self.codec.kinds[token], self.codec.values[token]
        s.after = kind if kind in (TRACK, VEL) else None
        if kind == PIECE:
            s.started = True
        elif kind == END:
            s.ended = True
        elif kind == SHIFT:
            s.now, s.struck = s.now + value, False
        elif kind == TRACK:
            s.track = value
        elif kind == VEL:
            s.velocity = value
        elif kind == ON:
            s.sounding.setdefault(s.track or 0, set()).add(value)
            s.struck = True
        elif kind == OFF:
            s.sounding.get(s.track or 0, set()).discard(value)
