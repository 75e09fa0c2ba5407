"""Objective statistics of a piece, with MusPy's definitions so numbers compare with published ones.

Loss says how well a model predicts; these say whether what it writes looks like the corpus:
range, pitch-class use, density, polyphony, rhythm regularity and how much stays in key. Drum
tracks are left out of the pitch statistics, as in MusPy. ``summary`` adds the music-theory
checks of ``seqgen.music.theory`` (chords, parallels, voices), and ``compare`` sets samples
beside pieces of the corpus like for like: the same length, each in its own key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from seqgen.music.score import Piece
from seqgen.music.theory import VoiceProfile, bar_starts, cut, theory_summary

#: Krumhansl-Kessler key profiles (probe-tone ratings), C major and C minor.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_SCALE = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)
MINOR_SCALE = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], bool)  # natural minor
MINOR_KEY = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1], bool)  # natural, harmonic and melodic minor
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


def notes_per_quarter(piece: Piece) -> float:
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


def _share_in(piece: Piece, scale: np.ndarray) -> float:
    pitches = [p for p, _, _ in _pitched(piece)]
    return sum(bool(scale[p % 12]) for p in pitches) / len(pitches) if pitches else 0.0


def pitch_in_scale_rate(piece: Piece, root: int, mode: str) -> float:
    """Share of pitched notes in the major or (natural) minor scale on ``root`` (0 = C)."""
    return _share_in(piece, np.roll(MAJOR_SCALE if mode == "major" else MINOR_SCALE, root % 12))


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


def in_key_rate(piece: Piece) -> float:
    """Share of pitched notes in the piece's key, estimated from its own notes (so a piece moved
    to another key scores the same, and samples and corpus are judged alike). A minor key holds
    its natural, harmonic and melodic forms: Bach's leading tones are in key."""
    root, mode = estimate_key(piece)
    return _share_in(piece, np.roll(MAJOR_SCALE if mode == "major" else MINOR_KEY, root))


def tonic_histogram(piece: Piece) -> np.ndarray:
    """The pitch-class histogram moved so the estimated tonic is at index 0 (C): pieces in
    different keys compare by scale degree."""
    return np.roll(pitch_class_histogram(piece), -estimate_key(piece)[0])


def summary(piece: Piece, profile: VoiceProfile | None = None) -> dict[str, float | int | str | None]:
    """All statistics of one piece, MusPy's and the theory checks against a corpus's voice
    ``profile`` (see ``theory_summary``), for comparing samples with a corpus."""
    root, mode = estimate_key(piece)
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
        "notes_per_quarter": notes_per_quarter(piece),
        "polyphony": polyphony(piece),
        "polyphony_rate": polyphony_rate(piece),
        "empty_beat_rate": empty_beat_rate(piece),
        "groove_consistency": groove_consistency(piece),
        "scale_consistency": scale_consistency(piece),
        "in_key_rate": in_key_rate(piece),
        **theory_summary(piece, profile),
    }


def mean_summary(pieces: Sequence[Piece], profile: VoiceProfile | None = None) -> dict[str, float | None]:
    """Mean of each numeric statistic over several pieces (a corpus, or a batch of samples),
    over the pieces where it applies (None where it applies to none)."""
    rows = [summary(p, profile) for p in pieces]
    keys = list(dict.fromkeys(k for r in rows for k, v in r.items() if not isinstance(v, str)))
    means: dict[str, float | None] = {}
    for key in keys:
        values = [r[key] for r in rows if r.get(key) is not None]
        means[key] = float(np.mean(values)) if values else None
    return means


def compare(samples: Sequence[Piece], reference: Sequence[Piece], profile: VoiceProfile | None = None,
            bars: float = 0.0) -> dict[str, dict[str, float | str | None]]:
    """Mean statistics of generated ``samples`` next to those of ``reference`` pieces (e.g. the
    val split), like for like: with ``bars`` (the length asked of the samples) each reference is
    cut to its first ``bars`` bars and ``reached_bars_rate`` says which pieces are that long;
    key-dependent figures are taken relative to each piece's own key. Voices are judged against
    ``profile`` (e.g. of the train split; default: the reference's). Also the distance between
    the pooled scale-degree histograms and each side's pitch range per voice."""
    profile = profile or VoiceProfile.of(reference)
    if bars:
        reference = [cut(p, bars) for p in reference]

    def pooled(pieces: Sequence[Piece]) -> np.ndarray:
        total = sum((tonic_histogram(p) * p.n_notes for p in pieces), np.zeros(12))
        return total / total.sum() if total.sum() else total

    def side(pieces: Sequence[Piece]) -> dict[str, float | str | None]:
        out: dict[str, float | str | None] = {"pieces": len(pieces), **mean_summary(pieces, profile)}
        if bars and pieces:
            out["reached_bars_rate"] = sum(len(bar_starts(p)) >= bars for p in pieces) / len(pieces)
        ranges = VoiceProfile.of(pieces).ranges
        return {**out, **{f"range {name}": f"{low}-{high}" for name, (low, high) in ranges.items()}}

    out = {"samples": side(samples), "reference": side(reference)}
    out["samples"]["pitch_class_distance"] = histogram_distance(pooled(samples), pooled(reference))
    return out
