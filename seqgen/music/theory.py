"""What a music theorist checks in a chorale-like piece, beat by beat.

Loss cannot say whether four voices sing like Bach's; these can: whether the voices sound
together, form triads and dominant sevenths, avoid parallel fifths and octaves, stay in order and
in their ranges, and sing one note at a time, and how many bars a piece reaches. The checks
sample the music at the beats of its time signature (the quarter in 4/4 and 3/4, the dotted
quarter in 6/8), parallels note to note, rates are per 100 beats, and none depends on the key, so a sample in any key compares with a corpus in
its own keys. Voice ranges and their top-to-bottom order come from the corpus itself
(``VoiceProfile``), since what is "too high" is a fact about the music imitated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from seqgen.music.score import Piece

EPS = 1e-6  # quarters: onsets and beats this close count as simultaneous
JUST_BEFORE = 1e-3  # quarters: well under the shortest note of any codec's grid

#: Pitch-class sets, from their lowest member, of the chords counted as "chords": the four
#: triads (major, minor, diminished, augmented) and the complete dominant seventh.
CHORDS = frozenset({(0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8), (0, 4, 7, 10)})


def beat_length(meter: tuple[int, int]) -> float:
    """The beat of a time signature in quarters: three of its units in compound meters (6/8, 9/8,
    12/8, 6/16, ...), else one unit (a quarter in 4/4 and 3/4, a half in 2/2)."""
    num, den = meter
    unit = 4 / den
    return 3 * unit if den >= 8 and num > 3 and num % 3 == 0 else unit


def bar_starts(piece: Piece) -> list[float]:
    """Bar lines before the piece's end: the score's own (``Piece.bars``: pickups, short bars)
    and, after its last one, one every bar of the meter in force."""
    end = piece.end
    starts = sorted({0.0, *(b for b in piece.bars if 0 < b < end - EPS)})
    line = starts[-1]
    while True:
        num, den = piece.meter_at(line)
        line += max(num * 4 / den, 0.25)
        if line >= end - EPS:
            return starts if end > EPS else []
        starts.append(line)


def beat_times(piece: Piece) -> np.ndarray:
    """Onsets of the piece's beats, in quarters. A first bar shorter than its meter (a pickup)
    has its beats counted back from its end, so they fall where the meter puts them."""
    starts = bar_starts(piece)
    times: list[float] = []
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else piece.end
        num, den = piece.meter_at(start)
        beat = beat_length((num, den))
        first = start
        if i == 0 and len(starts) > 1 and stop - start < num * 4 / den - EPS:
            first = stop - beat * np.floor((stop - start) / beat + EPS)
        times.extend(np.arange(first, stop - EPS, beat))
    return np.asarray(times, float)


def beat_count(piece: Piece) -> float:
    """Length of the piece in beats of its meter(s): what ``nats_per_beat`` divides by."""
    cuts = [(q, (n, d)) for q, n, d in sorted(piece.time_signature_changes) if 0 < q < piece.end]
    segments = [(0.0, piece.time_signature), *cuts]
    total = 0.0
    for i, (start, meter) in enumerate(segments):
        stop = segments[i + 1][0] if i + 1 < len(segments) else piece.end
        total += (stop - start) / beat_length(meter)
    return total


def cut(piece: Piece, bars: float) -> Piece:
    """A copy holding the first ``bars`` bars of the piece (the score's own bars), notes ringing
    past the cut shortened: a reference cut to the length asked of samples."""
    lines = bar_starts(piece)
    whole = int(bars)
    if whole >= len(lines):
        return piece
    end = lines[whole]
    tracks = [replace(t, notes=[replace(n, duration=min(n.duration, end - n.start)) for n in t.notes if n.start < end - EPS])
              for t in piece.tracks]
    return replace(piece, tracks=tracks, bars=[b for b in piece.bars if b < end - EPS])


@dataclass(frozen=True)
class VoiceProfile:
    """A corpus's voices: their names from the top voice down (by mean pitch) and each one's
    lowest and highest pitch. Statistics of a sample are taken against its corpus's profile."""

    order: tuple[str, ...]
    ranges: dict[str, tuple[int, int]]

    @classmethod
    def of(cls, pieces: Sequence[Piece]) -> VoiceProfile:
        pitches: dict[str, list[int]] = {}
        for piece in pieces:
            for track in piece.tracks:
                if not track.is_drum and track.notes:
                    pitches.setdefault(track.name, []).extend(n.pitch for n in track.notes)
        order = sorted(pitches, key=lambda name: -float(np.mean(pitches[name])))
        return cls(tuple(order), {name: (min(p), max(p)) for name, p in pitches.items()})


@dataclass(frozen=True)
class Sounding:
    """What each voice sounds at given moments: ``pitches[voice][moment]`` is a sorted tuple
    (empty when the voice rests). Voices are listed from the top voice down."""

    voices: tuple[str, ...]
    pitches: tuple[tuple[tuple[int, ...], ...], ...]

    @classmethod
    def at(cls, piece: Piece, voices: Sequence[str], times: np.ndarray) -> Sounding:
        """The voices at ``times`` (sorted quarters): a note sounds from its onset up to its end."""
        sounding: list[list[list[int]]] = [[[] for _ in times] for _ in voices]
        index = {name: i for i, name in enumerate(voices)}
        for track in piece.tracks:
            if track.is_drum or track.name not in index:
                continue
            rows = sounding[index[track.name]]
            for n in track.notes:
                first, last = np.searchsorted(times, [n.start - EPS, n.end - EPS])
                for b in range(first, last):
                    rows[b].append(n.pitch)
        return cls(tuple(voices), tuple(tuple(tuple(sorted(set(p))) for p in row) for row in sounding))

    @classmethod
    def on_beats(cls, piece: Piece, voices: Sequence[str]) -> Sounding:
        return cls.at(piece, voices, beat_times(piece))

    @property
    def n_times(self) -> int:
        return len(self.pitches[0]) if self.pitches else 0

    def single(self, voice: int, moment: int) -> int | None:
        """The voice's pitch at a moment when it sounds exactly one (chords and rests: None)."""
        sound = self.pitches[voice][moment]
        return sound[0] if len(sound) == 1 else None


def _per_100(count: int, beats: int) -> float | None:
    return 100 * count / beats if beats else None


def all_voices_rate(beats: Sounding) -> float | None:
    """Share of beats on which every voice sounds (``beats``: the voices on the beats)."""
    if not beats.n_times:
        return None
    return sum(all(v[b] for v in beats.pitches) for b in range(beats.n_times)) / beats.n_times


def is_chord(pitch_classes: set[int]) -> bool:
    """Whether the pitch classes form a triad or a dominant seventh (any inversion, any key)."""
    pcs = sorted(pitch_classes)
    return any(tuple(sorted((p - root) % 12 for p in pcs)) in CHORDS for root in pcs)


def chord_rate(beats: Sounding) -> float | None:
    """Share of the beats on which all voices sound (at least three of them) where the sounding
    pitch classes form a triad or dominant seventh; None when there are no such beats."""
    if len(beats.voices) < 3:
        return None
    full = [b for b in range(beats.n_times) if all(v[b] for v in beats.pitches)]
    if not full:
        return None
    return sum(is_chord({p % 12 for v in beats.pitches for p in v[b]}) for b in full) / len(full)


def parallels_per_100_beats(piece: Piece, voices: Sequence[str]) -> float | None:
    """Parallel fifths and octaves (unisons too) per 100 beats: two voices moving at the same
    moment in the same direction, a perfect fifth or octave apart (compound or not) both before
    and after. Counted note to note, as a theorist reads them: sampled beat to beat, Bach's
    passing notes between beats made 2.9 per 100 beats of 18 val chorales look parallel, and
    fifths and octaves by contrary motion (his cadences have them) another 0.6."""
    beats = len(beat_times(piece))
    onsets = np.unique([n.start for t in piece.tracks if not t.is_drum and t.name in voices for n in t.notes])
    after, before = Sounding.at(piece, voices, onsets), Sounding.at(piece, voices, onsets - JUST_BEFORE)
    count = 0
    for a, b in combinations(range(len(voices)), 2):
        for k in range(len(onsets)):
            now = before.single(a, k), before.single(b, k)
            then = after.single(a, k), after.single(b, k)
            if None in now or None in then or (then[0] - now[0]) * (then[1] - now[1]) <= 0:
                continue  # a rest or chord, a voice that holds, or contrary motion
            interval = abs(now[0] - now[1]) % 12
            count += interval in (0, 7) and abs(then[0] - then[1]) % 12 == interval
    return _per_100(count, beats)


def crossings_per_100_beats(beats: Sounding) -> float | None:
    """Voice crossings per 100 beats: each beat, each pair of voices where the one that belongs
    higher sounds a note below a note of the one that belongs lower."""
    count = sum(1 for hi, lo in combinations(range(len(beats.voices)), 2) for k in range(beats.n_times)
                if beats.pitches[hi][k] and beats.pitches[lo][k] and beats.pitches[hi][k][0] < beats.pitches[lo][k][-1])
    return _per_100(count, beats.n_times)


def voice_polyphony(beats: Sounding) -> dict[str, float]:
    """Per voice, the share of beats on which it sounds two or more notes at once."""
    if not beats.n_times:
        return {}
    return {name: sum(len(p) > 1 for p in row) / beats.n_times for name, row in zip(beats.voices, beats.pitches)}


def out_of_range_rate(piece: Piece, profile: VoiceProfile) -> float | None:
    """Share of notes outside their voice's range in the profile's corpus (voices the profile
    lacks are not counted)."""
    notes = [(n.pitch, profile.ranges[t.name]) for t in piece.tracks
             if not t.is_drum and t.name in profile.ranges for n in t.notes]
    return sum(not low <= p <= high for p, (low, high) in notes) / len(notes) if notes else None


def theory_summary(piece: Piece, profile: VoiceProfile | None = None) -> dict[str, float | None]:
    """The theory checks of one piece against a corpus's ``profile`` (default: the piece's own,
    so ranges are then met by construction). None marks a check with nothing to count."""
    profile = profile or VoiceProfile.of([piece])
    beats = Sounding.on_beats(piece, profile.order)
    per_voice = voice_polyphony(beats)
    return {
        "bars": float(len(bar_starts(piece))),
        "chord_rate": chord_rate(beats),
        "parallels_per_100_beats": parallels_per_100_beats(piece, profile.order),
        "crossings_per_100_beats": crossings_per_100_beats(beats),
        "out_of_range_rate": out_of_range_rate(piece, profile),
        "all_voices_rate": all_voices_rate(beats),
        **{f"polyphony {name}": rate for name, rate in per_voice.items()},
    }
