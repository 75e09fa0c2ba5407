"""Sample statistics (MusPy definitions) on pieces whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from seqgen.music import stats
from seqgen.music.score import Note, Piece, Track

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def scale_piece(key: str | None = "C major") -> Piece:
    melody = [Note(p, float(i), 1.0) for i, p in enumerate(C_MAJOR)]
    return Piece([Track("Melody", 0, False, melody)], key=key)


def chord_piece() -> Piece:
    """Bars of 4/4: bar 1 a C major triad for 4 beats, bar 2 empty, bar 3 a single C for 2 beats."""
    notes = [Note(p, 0.0, 4.0) for p in (60, 64, 67)] + [Note(48, 8.0, 2.0)]
    drums = [Note(36, 0.0, 0.5), Note(38, 6.0, 0.5)]
    return Piece([Track("Piano", 0, False, notes), Track("Drums", 0, True, drums)])


def test_pitch_statistics() -> None:
    piece = scale_piece()
    assert stats.pitch_range(piece) == 12
    assert stats.pitch_range_per_track(piece) == {"Melody": (60, 72)}
    assert stats.n_pitches_used(piece) == 8 and stats.n_pitch_classes_used(piece) == 7
    hist = stats.pitch_class_histogram(piece)
    assert hist.sum() == pytest.approx(1) and hist[0] == pytest.approx(2 / 8) and hist[1] == 0
    assert stats.pitch_entropy(piece) == pytest.approx(3.0)  # 8 equally likely pitches
    assert stats.pitch_class_entropy(piece) == pytest.approx(-(2 / 8 * np.log2(2 / 8) + 6 / 8 * np.log2(1 / 8)))


def test_histogram_distance() -> None:
    a = stats.pitch_class_histogram(scale_piece())
    assert stats.histogram_distance(a, a) == 0
    only_c_sharp = np.eye(12)[1]
    assert stats.histogram_distance(a, only_c_sharp) == pytest.approx(1.0)


def test_polyphony_density_and_rhythm() -> None:
    piece = chord_piece()
    assert stats.pitch_range(piece) == 67 - 48  # drums ignored
    assert stats.polyphony(piece) == pytest.approx((3 * 48 + 1 * 24) / (48 + 24))
    assert stats.polyphony_rate(piece) == pytest.approx(48 / 120)  # 3 pitches > 2 for 4 of 10 beats
    assert stats.empty_beat_rate(piece) == pytest.approx(3 / 10)  # beats 4, 5, 7 are silent
    assert stats.notes_per_quarter(piece) == pytest.approx(6 / 10)
    assert stats.groove_consistency(scale_piece()) == 1.0  # two bars of four quarter notes


def test_key_and_scale() -> None:
    piece = scale_piece(key=None)
    assert stats.estimate_key(piece) == (0, "major")
    assert stats.pitch_in_scale_rate(piece, 0, "major") == 1.0
    assert stats.pitch_in_scale_rate(piece, 1, "major") == pytest.approx(3 / 8)  # C# major holds C (B#), F
    assert stats.scale_consistency(piece) == 1.0
    # The key is estimated from the notes: a wrong stated key does not count.
    assert stats.in_key_rate(scale_piece("F# major")) == 1.0


def test_summary_of_empty_and_real_pieces() -> None:
    empty = stats.summary(Piece())
    assert empty["notes"] == 0 and empty["pitch_range"] == 0 and empty["polyphony"] == 0.0
    assert empty["bars"] == 0 and empty["chord_rate"] is None and empty["parallels_per_100_beats"] is None
    row = stats.summary(scale_piece())
    assert row["key"] == "C major" and row["in_key_rate"] == 1.0 and row["notes"] == 8 and row["bars"] == 2
    means = stats.mean_summary([scale_piece(), Piece()])
    assert means["pitch_range"] == 6.0  # (12 + 0) / 2
    assert means["crossings_per_100_beats"] == 0.0  # the empty piece has no beats and is left out
    assert means["chord_rate"] is None  # one voice: never a four-voice beat
