"""Objective statistics of a piece, with MusPy's definitions so numbers compare with published ones.

Loss says how well a model predicts; these say whether what it writes looks like the corpus:
range, pitch-class use, density, polyphony, rhythm regularity and how much stays in key. Drum
tracks are left out of the pitch statistics, as in MusPy. Compare a sample's values with the
same statistics of training pieces (``summary`` of both, ``histogram_distance`` of their
pitch-class histograms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from seqgen.music.score import Piece

#: Krumhansl-Kessler key profiles (probe-tone ratings), C major and C minor.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_SCALE = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)
MINOR_SCALE = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], bool)  # natural minor
PITCH_CLASSES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
STEPS = 12  # time steps per quarter note for the piano roll


def _pitched(piece: Piece) -> list[tuple[int, float, float]]:
    return [(n.pitch, n.start, n.duration) for t in piece.tracks if not t.is_drum for n in t.notes]


def pitch_range(piece: Piece) -> int:
    """Highest minus lowest pitch (semitones); 0 for an empty piece."""
    pitches = [p for p, _, _ in _pitched(piece)]
    return max(pitches) - min(pitches) if pitches else 0


def pitch_range_per_track(piece: Piece) -> dict[str, tuple[int, int]]:
    """``{track name: (lowest, highest)}``: a generated bass that climbs into the soprano shows here."""
    return {t.name: (min(n.pitch for n in t.notes), max(n.pitch for n in t.notes)) for t in piece.tracks if t.notes}


def n_pitches_used(piece: Piece) -> int:
    return len({p for p, _, _ in _pitched(piece)})


def n_pitch_classes_used(piece: Piece) -> int:
    return len({p % 12 for p, _, _ in _pitched(piece)})


def pitch_class_histogram(piece: Piece) -> np.ndarray:
    """Share of notes on each pitch class C..B (sums to 1; all zeros for an empty piece)."""
    counts = np.zeros(12)
    for p, _, _ in _pitched(piece):
        counts[p % 12] += 1
    return counts / counts.sum() if counts.sum() else counts


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance, 0 (same) .. 1 (disjoint): half the L1 distance of two histograms."""
    return float(0.5 * np.abs(np.asarray(a, float) - np.asarray(b, float)).sum())


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if not total:
        return 0.0
    prob = counts[counts > 0] / total
    return float(-(prob * np.log2(prob)).sum())


def pitch_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the pitch histogram."""
    return _entropy(np.bincount([p for p, _, _ in _pitched(piece)], minlength=128).astype(float))


def pitch_class_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the pitch-class histogram."""
    return _entropy(np.bincount([p % 12 for p, _, _ in _pitched(piece)], minlength=12).astype(float))


def piano_roll(piece: Piece, steps_per_quarter: int = STEPS) -> np.ndarray:
    """Boolean ``(time steps, 128)`` roll of the pitched tracks."""
    notes = _pitched(piece)
    length = max((round((s + d) * steps_per_quarter) for _, s, d in notes), default=0)
    roll = np.zeros((length, 128), bool)
    for p, s, d in notes:
        start = round(s * steps_per_quarter)
        roll[start:max(start + 1, round((s + d) * steps_per_quarter)), p] = True
    return roll


def polyphony(piece: Piece) -> float:
    """Mean number of pitches sounding, over the time steps where at least one sounds."""
    counts = piano_roll(piece).sum(axis=1)
    return float(counts[counts > 0].mean()) if (counts > 0).any() else 0.0


def polyphony_rate(piece: Piece, threshold: int = 2) -> float:
    """Share of time steps with more than ``threshold`` pitches sounding."""
    counts = piano_roll(piece).sum(axis=1)
    return float((counts > threshold).mean()) if len(counts) else 0.0


def empty_beat_rate(piece: Piece) -> float:
    """Share of beats (quarter notes) in which no note sounds, drums included."""
    beats = math.ceil(piece.end)
    if beats == 0:
        return 0.0
    busy = np.zeros(beats, bool)
    for t in piece.tracks:
        for n in t.notes:
            busy[int(n.start):max(int(n.start) + 1, math.ceil(n.end))] = True
    return float(1 - busy.mean())


def notes_per_beat(piece: Piece) -> float:
    """Notes per quarter note: density, comparable across tempi."""
    return piece.n_notes / piece.end if piece.end else 0.0


def groove_consistency(piece: Piece, steps_per_quarter: int = STEPS) -> float:
    """1 minus the mean Hamming distance between the onset patterns of neighbouring bars (per
    bar position); 1 means every bar has the same rhythm. Uses the opening time signature."""
    num, den = piece.time_signature
    bar = max(1, round(num * 4 / den * steps_per_quarter))
    onsets = {round(n.start * steps_per_quarter) for t in piece.tracks for n in t.notes}
    if not onsets:
        return 0.0
    patterns = np.zeros((max(onsets) // bar + 1, bar), bool)
    for step in onsets:
        patterns[step // bar, step % bar] = True
    if len(patterns) < 2:
        return 1.0
    return float(1 - (patterns[1:] != patterns[:-1]).sum() / (bar * (len(patterns) - 1)))


def pitch_in_scale_rate(piece: Piece, root: int, mode: str) -> float:
    """Share of pitched notes in the major or (natural) minor scale on ``root`` (0 = C)."""
    scale = np.roll(MAJOR_SCALE if mode == "major" else MINOR_SCALE, root % 12)
    pitches = [p for p, _, _ in _pitched(piece)]
    return sum(bool(scale[p % 12]) for p in pitches) / len(pitches) if pitches else 0.0


def scale_consistency(piece: Piece) -> float:
    """The largest pitch-in-scale rate over all 24 major and minor scales."""
    return max(pitch_in_scale_rate(piece, r, m) for r in range(12) for m in ("major", "minor"))


def estimate_key(piece: Piece) -> tuple[int, str]:
    """Krumhansl-Schmuckler: the key whose profile best correlates with the duration-weighted
    pitch-class histogram. Returns ``(root 0-11, "major" | "minor")``."""
    weights = np.zeros(12)
    for p, _, d in _pitched(piece):
        weights[p % 12] += d
    if not weights.any():
        return 0, "major"
    best = max(((float(np.corrcoef(weights, np.roll(prof, r))[0, 1]), r, mode)
                for mode, prof in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)) for r in range(12)),
               key=lambda x: -math.inf if math.isnan(x[0]) else x[0])
    return best[1], best[2]


def _key_of(piece: Piece) -> tuple[int, str]:
    """The piece's own key when it states one (``"G major"``), else the estimated key."""
    if piece.key:
        tonic, _, mode = piece.key.partition(" ")
        name = tonic[:1].upper() + tonic[1:].replace("-", "b")
        enharmonic = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb",
                      "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
        name = enharmonic.get(name, name)
        if name in PITCH_CLASSES and mode in ("major", "minor"):
            return PITCH_CLASSES.index(name), mode
    return estimate_key(piece)


def in_key_rate(piece: Piece) -> float:
    """Share of pitched notes in the scale of the piece's key (stated, else estimated)."""
    root, mode = _key_of(piece)
    return pitch_in_scale_rate(piece, root, mode)


def summary(piece: Piece) -> dict[str, float | int | str]:
    """All statistics of one piece, for printing after sampling or comparing with a corpus."""
    root, mode = _key_of(piece)
    return {
        "notes": piece.n_notes,
        "tracks": len(piece.tracks),
        "quarters": round(piece.end, 3),
        "seconds": round(piece.seconds, 3),
        "key": f"{PITCH_CLASSES[root]} {mode}",
        "pitch_range": pitch_range(piece),
        "n_pitches_used": n_pitches_used(piece),
        "n_pitch_classes_used": n_pitch_classes_used(piece),
        "pitch_entropy": pitch_entropy(piece),
        "pitch_class_entropy": pitch_class_entropy(piece),
        "notes_per_beat": notes_per_beat(piece),
        "polyphony": polyphony(piece),
        "polyphony_rate": polyphony_rate(piece),
        "empty_beat_rate": empty_beat_rate(piece),
        "groove_consistency": groove_consistency(piece),
        "scale_consistency": scale_consistency(piece),
        "in_key_rate": pitch_in_scale_rate(piece, root, mode),
    }


def mean_summary(pieces: Sequence[Piece]) -> dict[str, float]:
    """Mean of each numeric statistic over several pieces (a corpus, or a batch of samples)."""
    rows = [summary(p) for p in pieces]
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float))] if rows else []
    return {k: float(np.mean([r[k] for r in rows])) for k in keys}


def compare(samples: Sequence[Piece], reference: Sequence[Piece]) -> dict[str, dict[str, float]]:
    """Mean statistics of generated ``samples`` next to those of ``reference`` pieces (e.g. the
    val split), plus the distance between their pooled pitch-class histograms and each side's
    pitch range per track: how far the samples sit from the music they imitate."""
    def pooled(pieces: Sequence[Piece]) -> np.ndarray:
        total = sum((pitch_class_histogram(p) * p.n_notes for p in pieces), np.zeros(12))
        return total / total.sum() if total.sum() else total

    def ranges(pieces: Sequence[Piece]) -> dict[str, float]:
        lows: dict[str, list[int]] = {}
        highs: dict[str, list[int]] = {}
        for piece in pieces:
            for name, (low, high) in pitch_range_per_track(piece).items():
                lows.setdefault(name, []).append(low)
                highs.setdefault(name, []).append(high)
        return {f"range {name}": f"{min(lows[name])}-{max(highs[name])}" for name in lows}

    out = {"samples": {**mean_summary(samples), **ranges(samples)},
           "reference": {**mean_summary(reference), **ranges(reference)}}
    out["samples"]["pitch_class_distance"] = histogram_distance(pooled(samples), pooled(reference))
    return out
