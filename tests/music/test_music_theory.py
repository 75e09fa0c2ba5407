"""Music-theory checks on small hand-made pieces whose answers a musician can count."""

from __future__ import annotations

import pytest

from seqgen.evaluate import report
from seqgen.music import theory
from seqgen.music.grid import GridTokenizer
from seqgen.music.score import Note, Piece, Track, transpose
from seqgen.music.stats import compare, estimate_key, in_key_rate, tonic_histogram

VOICES = ("Soprano", "Alto", "Tenor", "Bass")


def chorale(*columns: tuple[int | tuple[int, ...] | None, ...], meter: tuple[int, int] = (4, 4)) -> Piece:
    """Four voices, one column of (S, A, T, B) per beat; a tuple is a chord in one voice, None a rest."""
    beat = theory.beat_length(meter)
    notes: dict[str, list[Note]] = {v: [] for v in VOICES}
    for b, column in enumerate(columns):
        for voice, sound in zip(VOICES, column):
            for pitch in (() if sound is None else sound if isinstance(sound, tuple) else (sound,)):
                notes[voice].append(Note(pitch, b * beat, beat))
    return Piece([Track(v, 0, False, notes[v]) for v in VOICES], time_signature=meter)


# I - IV - V - I in C major, no parallels, every beat a triad.
CLEAN = [(72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48)]
# The same with soprano and bass a twelfth apart on beats 2 and 3, both moving: one parallel fifth.
FIFTHS = [(72, 67, 64, 48), (72, 69, 65, 53), (74, 71, 62, 55), (72, 67, 64, 48)]


def beats_of(piece: Piece) -> theory.Sounding:
    return theory.Sounding.on_beats(piece, VOICES)


def test_beat_is_the_time_signatures_beat() -> None:
    assert theory.beat_length((4, 4)) == theory.beat_length((3, 4)) == 1.0
    assert theory.beat_length((6, 8)) == theory.beat_length((12, 8)) == 1.5
    assert theory.beat_length((2, 2)) == 2.0 and theory.beat_length((3, 8)) == 0.5
    six_eight = Piece([Track("Melody", 0, False, [Note(60, 0.0, 6.0)])], time_signature=(6, 8))
    assert list(theory.beat_times(six_eight)) == [0.0, 1.5, 3.0, 4.5]
    # An eighth-note pickup has no beat; the bars after it start on the score's own bar lines.
    pickup = Piece([Track("Melody", 0, False, [Note(60, 0.5, 6.0)])], time_signature=(6, 8), bars=[0.0, 0.5])
    assert theory.bar_starts(pickup) == [0.0, 0.5, 3.5]
    assert list(theory.beat_times(pickup)) == [0.5, 2.0, 3.5, 5.0]
    # A quarter pickup in 4/4 is the fourth beat of its bar.
    assert list(theory.beat_times(Piece([Track("M", 0, False, [Note(60, 0.0, 3.0)])], bars=[0.0, 1.0]))) == [0.0, 1.0, 2.0]


def test_beat_count_follows_meter_changes_and_feeds_nats_per_beat() -> None:
    piece = Piece([Track("Melody", 0, False, [Note(60, 0.0, 16.0)])], time_signature=(4, 4),
                  time_signature_changes=[(4.0, 6, 8)])
    assert theory.beat_count(piece) == pytest.approx(4 + 12 / 1.5)
    units = GridTokenizer().units(piece)
    assert units["quarters"] == 16.0 and units["beats"] == pytest.approx(12.0)
    out = report("val", nll=24.0, tokens=99, units={"quarters": 16.0, "beats": 12.0})
    assert out["nats_per_quarter"] == pytest.approx(24 / (16 * 0.99))
    assert out["nats_per_beat"] == pytest.approx(24 / (12 * 0.99))


def test_chords_are_triads_and_dominant_sevenths_in_any_inversion() -> None:
    assert theory.is_chord({0, 4, 7}) and theory.is_chord({4, 7, 0}) and theory.is_chord({9, 0, 4})  # A minor
    assert theory.is_chord({11, 2, 5}) and theory.is_chord({0, 4, 8})  # diminished, augmented
    assert theory.is_chord({7, 11, 2, 5})  # G7
    assert not theory.is_chord({0, 4}) and not theory.is_chord({0, 2, 4}) and not theory.is_chord({0, 4, 7, 11})
    clean = beats_of(chorale(*CLEAN))
    assert theory.chord_rate(clean) == 1.0
    # Beat 2 becomes C-D-G-E (no chord); beat 4 loses its bass, so only 3 beats have all voices.
    rough = beats_of(chorale(CLEAN[0], (74, 67, 62, 48), CLEAN[2], (72, 67, 64, None)))
    assert theory.all_voices_rate(rough) == 0.75
    assert theory.chord_rate(rough) == pytest.approx(2 / 3)


def test_exactly_one_parallel_fifth_and_one_parallel_octave() -> None:
    assert theory.parallels_per_100_beats(chorale(*CLEAN), VOICES) == 0.0
    assert theory.parallels_per_100_beats(chorale(*FIFTHS), VOICES) == 25.0  # 1 in 4 beats
    octaves = chorale((72, 67, 64, 48), (74, 67, 64, 50), (74, 67, 64, 50), (74, 67, 64, 50))
    assert theory.parallels_per_100_beats(octaves, VOICES) == 25.0
    # Oblique motion into a fifth (one voice holds) is not a parallel.
    oblique = chorale((67, 64, 60, 48), (67, 64, 60, 36))
    assert theory.parallels_per_100_beats(oblique, VOICES) == 0.0
    # Nor is contrary motion from a fifth to a twelfth (G/C to C/F, as at Bach's cadences).
    contrary = chorale((67, 64, 55, 48), (72, 64, 55, 41))
    assert theory.parallels_per_100_beats(contrary, VOICES) == 0.0


def test_parallels_are_read_note_to_note_not_beat_to_beat() -> None:
    """Bach, BWV 24.6: octaves Bb-Bb on one beat and C-C on the next, but the soprano's passing
    notes C-D come between, so it reaches its C from above while the bass rises: no parallel."""
    soprano = [Note(70, 0.0, 0.5), Note(72, 0.5, 0.25), Note(74, 0.75, 0.25), Note(72, 1.0, 1.0)]
    bass = [Note(46, 0.0, 1.0), Note(48, 1.0, 1.0)]
    piece = Piece([Track("Soprano", 0, False, soprano), Track("Bass", 0, False, bass)])
    on_beats = theory.Sounding.on_beats(piece, ["Soprano", "Bass"])
    assert on_beats.pitches == (((70,), (72,)), ((46,), (48,)))  # octaves on both beats
    assert theory.parallels_per_100_beats(piece, ["Soprano", "Bass"]) == 0.0
    # Fifths in eighth notes between the beats are parallels all the same.
    eighths = Piece([Track("Soprano", 0, False, [Note(67, 0.0, 0.5), Note(69, 0.5, 1.5)]),
                     Track("Bass", 0, False, [Note(48, 0.0, 0.5), Note(50, 0.5, 1.5)])])
    assert theory.parallels_per_100_beats(eighths, ["Soprano", "Bass"]) == 50.0  # 1 in 2 beats


def test_crossings_polyphony_and_range() -> None:
    crossed = chorale((67, 69, 64, 48), *CLEAN[1:])  # the alto above the soprano on beat 1
    assert theory.crossings_per_100_beats(beats_of(crossed)) == 25.0
    assert theory.crossings_per_100_beats(beats_of(chorale(*CLEAN))) == 0.0
    chord_in_alto = chorale(CLEAN[0], (72, (69, 65), None, 53), *CLEAN[2:])
    assert theory.voice_polyphony(beats_of(chord_in_alto)) == {"Soprano": 0.0, "Alto": 0.25, "Tenor": 0.0, "Bass": 0.0}
    profile = theory.VoiceProfile.of([chorale(*CLEAN)])
    assert profile.order == VOICES and profile.ranges["Bass"] == (48, 55)
    high_bass = chorale(*CLEAN[:3], (72, 67, 64, 60))  # one bass note of 16 notes above G3
    assert theory.out_of_range_rate(high_bass, profile) == pytest.approx(1 / 16)
    row = theory.theory_summary(chord_in_alto, profile)
    assert row["polyphony Alto"] == 0.25 and row["bars"] == 1.0 and row["all_voices_rate"] == 0.75


def test_in_key_share_is_estimated_per_piece_so_transposition_does_not_change_it() -> None:
    a_major = [69, 71, 73, 74, 76, 78, 80, 81, 70]  # the A major scale and one B flat
    piece = Piece([Track("Melody", 0, False, [Note(p, float(i), 2.0 if p == 69 else 1.0) for i, p in enumerate(a_major)])])
    assert estimate_key(piece) == (9, "major")
    assert in_key_rate(piece) == pytest.approx(8 / 9)
    assert in_key_rate(transpose(piece, 5)) == pytest.approx(8 / 9)
    assert list(tonic_histogram(piece)) == pytest.approx(list(tonic_histogram(transpose(piece, -4))))
    # Bach's leading tone in minor is in key: A harmonic minor's G sharp.
    minor = Piece([Track("M", 0, False, [Note(p, float(i), 1.0) for i, p in enumerate([69, 72, 76, 69, 68, 69, 64, 69])])])
    assert estimate_key(minor) == (9, "minor") and in_key_rate(minor) == 1.0


def test_compare_cuts_the_reference_to_the_samples_length() -> None:
    four_bars = chorale(*(CLEAN * 4))
    assert theory.bar_starts(four_bars) == [0.0, 4.0, 8.0, 12.0]
    two = theory.cut(four_bars, 2)
    assert two.end == 8.0 and theory.bar_starts(two) == [0.0, 4.0]
    assert four_bars.end == 16.0  # the original is untouched
    sample = chorale(*FIFTHS, *CLEAN)  # two bars, one parallel fifth in 8 beats
    out = compare([sample], [four_bars], bars=2)
    assert out["reference"]["pieces"] == 1 and out["reference"]["quarters"] == 8.0 and out["reference"]["bars"] == 2.0
    assert out["samples"]["reached_bars_rate"] == 1.0 and out["reference"]["reached_bars_rate"] == 1.0
    assert out["samples"]["parallels_per_100_beats"] == 12.5 and out["reference"]["parallels_per_100_beats"] == 0.0
    # The same music in another key sits at distance 0: histograms are taken from each tonic.
    assert compare([transpose(two, 3)], [four_bars], bars=2)["samples"]["pitch_class_distance"] == pytest.approx(0.0)
    assert compare([sample], [four_bars], bars=3)["samples"]["reached_bars_rate"] == 0.0
