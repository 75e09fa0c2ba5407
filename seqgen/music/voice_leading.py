"""The grid grammar's voice-leading rules: no parallel fifths or octaves, no crossed voices.

A model trained for ten minutes learns which notes make a chord long before it learns how voices
may move from one chord to the next: 20 samples of a 10-minute bach run (the old LSTM default)
had 12 parallel fifths and octaves per 100 beats (Bach: none) and, with those kept out, crossed
voices 70% more often than Bach. So, unless a user
frees them, the grammar refuses a pitch that would make either, by the definitions
``seqgen.music.theory`` counts:
- parallels: two voices moving at the same moment in the same direction, a perfect fifth or
  octave (or unison) apart, compound or not, both before and after; a voice that holds, rests or
  moves against the other is free;
- crossing: a voice sounding below one that belongs lower, or above one that belongs higher (the
  order is the voices' registers in the training data, ``TrackTable.voices``).
They apply to voices that sing one note at a time (tracks of polyphony 1 in the training data),
where "the note before" is well defined. A rule that would leave a voice no pitch at all gives way
(parallels are kept out first); the key and range rules never do.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

#: Intervals, in semitones modulo the octave, that may not be kept by similar motion.
PERFECT = (0, 7)
PITCHES = torch.arange(128)

#: A note as the grammar follows it: (start step, end step, pitch).
Note = tuple[int, int, int]


def sounding(notes: Iterable[Note], at: float) -> int | None:
    """The pitch of the one note sounding at ``at`` (a step, or half-way between two), or None
    for a rest or for several notes at once."""
    pitches = [pitch for start, end, pitch in notes if start <= at < end]
    return pitches[0] if len(pitches) == 1 else None


def parallel_pitches(voices: dict[int, list[Note]], track: int, onset: int) -> Tensor:
    """A (128,) mask of the pitches ``track`` may not start at ``onset``: those that would move
    in parallel fifths or octaves with another voice of ``voices`` (track -> its recent notes,
    the notes already started at ``onset`` among them)."""
    forbidden = torch.zeros(128, dtype=torch.bool)
    before = sounding(voices.get(track, ()), onset - 0.5)
    if before is None:
        return forbidden
    for other, notes in voices.items():
        if other == track:
            continue
        then, now = sounding(notes, onset - 0.5), sounding(notes, onset + 0.5)
        if then is None or now is None or then == now:
            continue  # a rest or chord, or a voice that holds: no parallel motion
        interval = abs(before - then) % 12
        if interval in PERFECT:
            same_way = torch.sign(PITCHES - before) == (1 if now > then else -1)
            forbidden |= same_way & ((PITCHES - now).abs() % 12 == interval)
    return forbidden


def crossing_pitches(voices: dict[int, list[Note]], track: int, onset: int, order: list[int]) -> Tensor:
    """A (128,) mask of the pitches ``track`` may not start at ``onset``: above a voice that
    sounds then and belongs higher in ``order`` (top voice first), or below one that belongs
    lower."""
    forbidden = torch.zeros(128, dtype=torch.bool)
    rank = order.index(track)
    for other, notes in voices.items():
        now = sounding(notes, onset + 0.5) if other != track and other in order else None
        if now is not None:
            forbidden |= PITCHES > now if order.index(other) < rank else PITCHES < now
    return forbidden


def remember(notes: list[Note], note: Note) -> list[Note]:
    """``notes`` with ``note`` added and those that ended before its start dropped (a note ending
    at the start still sounds just before it)."""
    return [n for n in notes if n[1] >= note[0]] + [note]
