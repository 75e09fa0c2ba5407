"""The controls a musician sets at sampling time, parsed from what they type, and the pitch rules
the grammar enforces with them.

``--key "E minor"`` becomes a ``Key`` (which pitch classes may be drawn, and the key signature to
write); ``--time-signature 3/4`` a ``(3, 4)`` meter. ``PitchRules`` turns a key and a codec's
track table into, per track slot, the pitches it may start (in the key, for pitched tracks, and
within the slot's range in the training data) and how many notes it may hold at once, so a
sample on any trained model keeps to them without retraining.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import Tensor

from seqgen.errors import SeqgenError
from seqgen.music.codecs import TrackTable

_NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
_HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)
_MELODIC_MINOR = (0, 2, 3, 5, 7, 9, 11)
#: Scale steps above the tonic, in semitones. Plain "minor" allows all three minor forms, as
#: minor-key music uses them (the raised 6th and 7th rising to the tonic).
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": tuple(sorted(set(_NATURAL_MINOR) | set(_HARMONIC_MINOR) | set(_MELODIC_MINOR))),
    "natural minor": _NATURAL_MINOR,
    "harmonic minor": _HARMONIC_MINOR,
    "melodic minor": _MELODIC_MINOR,
}
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY = re.compile(r"([A-Ga-g])([#b-]?)\s*(.*)")


@dataclass(frozen=True)
class Key:
    """A key: its tonic's pitch class (0 = C), its scale (a ``SCALES`` name) and the name written
    as the key signature (``"E minor"``, ``"Bb major"``)."""

    tonic: int
    mode: str
    name: str

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.tonic + step) % 12 for step in SCALES[self.mode])


@dataclass(frozen=True)
class Controls:
    """What the user asked of a sample beyond its length: a key (pitches outside it are never
    drawn), a meter (the header's and every bar's) and a tempo (the header's tempo token is the
    one nearest it, and the model writes no tempo change). None: the model's choice, except the
    header tempo, which is the corpus's usual one. ``voice_leading``: voices that sing one note at
    a time never move in parallel fifths or octaves, nor cross (``seqgen.music.voice_leading``)."""

    key: Key | None = None
    meter: tuple[int, int] | None = None
    tempo: float | None = None
    voice_leading: bool = True


def parse_key(text: str) -> Key:
    """``"E minor"``, ``"F# major"``, ``"Bb"`` (major), ``"a harmonic minor"`` -> a ``Key``."""
    match = _KEY.fullmatch(text.strip())
    mode = " ".join((match.group(3) if match else "").lower().split()) or "major"
    if not match or mode not in SCALES:
        raise SeqgenError(f"{text!r} is not a key: give a tonic and a mode, e.g. \"E minor\", \"F# major\" or "
                          f"\"Bb major\" (modes: {', '.join(SCALES)})")
    letter, accidental = match.group(1).upper(), match.group(2).replace("-", "b")
    tonic = (_LETTERS[letter] + {"#": 1, "b": -1, "": 0}[accidental]) % 12
    return Key(tonic, mode, f"{letter}{accidental} {'major' if mode == 'major' else 'minor'}")


def parse_meter(text: str) -> tuple[int, int]:
    """``"3/4"`` -> ``(3, 4)``; the denominator must be a power of two."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{1,2})\s*", text)
    num, den = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not (num >= 1 and den >= 1 and den & (den - 1) == 0):
        raise SeqgenError(f"{text!r} is not a time signature: give N/D such as 3/4 or 6/8 (D a power of two)")
    return num, den


class PitchRules:
    """Per track slot of ``table``: ``pitches[slot]``, a (128,) mask of the pitches it may start
    (within its fitted range and, for a pitched slot, in ``key``), and ``polyphony[slot]``, the
    most notes it may sound at once (None: no limit, as for a table fitted before it was noted).
    """

    def __init__(self, table: TrackTable, key: Key | None = None) -> None:
        in_key = torch.ones(128, dtype=torch.bool)
        if key is not None:
            in_key = torch.tensor([p % 12 in key.pitch_classes for p in range(128)])
        self.pitches: list[Tensor] = []
        self.polyphony: list[int | None] = []
        for slot, track in enumerate(table.tracks):
            low, high, most = table.limits(slot)
            mask = torch.zeros(128, dtype=torch.bool)
            mask[low: high + 1] = True
            self.pitches.append(mask if track["is_drum"] else mask & in_key)
            self.polyphony.append(most)
        if key is not None and not any(m.any() for m in self.pitches):
            raise SeqgenError(f"no pitch of {key.name} lies in the range of any of this model's tracks")

    def playable(self, slot: int) -> bool:
        """Whether the slot has any pitch it may start."""
        return 0 <= slot < len(self.pitches) and bool(self.pitches[slot].any())

    def free_from(self, slot: int, ends: list[int]) -> int:
        """The first step at which the slot may start a note, given the end steps of its notes
        (``ends``, of notes already started): when fewer than its polyphony still sound."""
        most = self.polyphony[slot] if 0 <= slot < len(self.polyphony) else None
        if most is None or len(ends) < most:
            return 0
        return sorted(ends, reverse=True)[most - 1]
