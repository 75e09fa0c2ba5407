"""Bars from the score: the grid codec puts ``Bar`` where the score's measures start (after
repeats are expanded), short bars included, and every note decodes back to its own offset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

music21 = pytest.importorskip("music21")

from seqgen.music.codecs import roundtrip_f1  # noqa: E402
from seqgen.music.grid import GridTokenizer  # noqa: E402
from seqgen.music.music21_io import _abc_tunes, piece_from_music21, spell_fermatas  # noqa: E402
from seqgen.music.score import Note, Piece, Track, transpose  # noqa: E402

ONEILL = Path(music21.__file__).parent / "corpus" / "oneills1850" / "0051-0100.abc"
#: 53: a fermata note (``HA2``) music21 would drop, leaving bar 4 short (9 later bars off the
#: meter grid); 58: the same in bar 6; 97 (CAHIRCIVEEN is 98): repeats with first/second endings; 66: repeats.
TUNES = (53, 58, 66, 97)


@pytest.fixture(scope="module")
def oneill() -> dict[int, Any]:
    return {int(label.split("#")[1]): score for label, score in _abc_tunes(ONEILL)
            if int(label.split("#")[1]) in TUNES}


def _abc(body: str) -> Any:
    return music21.converter.parse("X:1\nT:test\n" + body, format="abc")


def _measure_starts(score: Any) -> set[float]:
    """music21's own measure offsets after expansion, the pickup padded to a full bar."""
    return _measures(score.expandRepeats())[0]


def _measures(expanded: Any) -> tuple[set[float], set[float]]:
    """The starts of all measures of an expanded score, and of its full ones (as long as their
    time signature says), in music21's offsets with the pickup padded to a full bar."""
    measures = list(expanded.parts[0].getElementsByClass("Measure"))
    first = measures[0]
    pad = float(first.barDuration.quarterLength - first.duration.quarterLength) if first.number == 0 else 0.0
    starts = [0.0] + [float(m.offset) + pad for m in measures[1:]]
    full = {q for q, m in zip(starts, measures) if m.duration.quarterLength == m.barDuration.quarterLength}
    return set(starts), full


def _notes(piece: Piece) -> list[tuple[float, int, float]]:
    return sorted((n.start, n.pitch, n.duration) for t in piece.tracks for n in t.notes)


def _assert_bars_aligned(score: Any) -> Piece:
    piece = piece_from_music21(score)
    codec = GridTokenizer.fit([piece], steps_per_quarter=24)
    back = codec.decode(codec.encode(piece))
    assert back.bars and set(back.bars) <= _measure_starts(score)
    assert _notes(back) == _notes(piece)
    return piece


@pytest.mark.parametrize("number", TUNES)
def test_bars_sit_at_music21_measure_starts(oneill: dict[int, Any], number: int) -> None:
    _assert_bars_aligned(oneill[number])


def test_short_bar_keeps_later_downbeats_in_place() -> None:
    # tune 53 as music21 reads it unaided: the fermata note of bar 4 is dropped, the bar is short
    text = ONEILL.read_text(encoding="utf-8")
    start = text.index("X: 53\n")
    score = _abc(text[text.index("M:", start):text.index("X: 54", start)])
    piece = piece_from_music21(score)
    assert any(issue.startswith("short bars: 4") for issue in piece.issues)
    off_meter = [b for b in piece.bars if b % 3]  # 6/8: full bars every 3 quarters from the pickup
    assert len(off_meter) >= 9
    assert _notes(GridTokenizer.fit([piece]).decode(GridTokenizer.fit([piece]).encode(piece))) == _notes(piece)


def test_fermata_notes_are_kept(oneill: dict[int, Any]) -> None:
    for number, bar, held in ((53, 4, "A4"), (58, 6, "D5")):
        piece = piece_from_music21(oneill[number])
        assert not piece.issues, number
        measure = oneill[number].parts[0].measure(bar)
        assert measure.duration.quarterLength == measure.barDuration.quarterLength
        assert (held, 1.0) in [(n.nameWithOctave, float(n.quarterLength)) for n in measure.notes]
    assert [b for b in piece_from_music21(oneill[53]).bars if b % 3] == []
    assert spell_fermatas('H: history\n"Hornpipe" HA2 H^c d|\n% H c\n') == \
        'H: history\n"Hornpipe" !fermata!A2 !fermata!^c d|\n% H c\n'


def test_repeats_and_endings_are_expanded(oneill: dict[int, Any]) -> None:
    score = oneill[97]
    assert score.parts[0].highestTime == 70.5
    piece = piece_from_music21(score)
    assert piece.end == 126 + 2.5  # the expanded tune, after its 2.5-quarter pickup padding
    assert "repeats not expanded" not in " ".join(piece.issues)
    assert piece_from_music21(score, expand_repeats=False).end == 73


def test_pickup_round_trips() -> None:
    piece = _assert_bars_aligned(_abc("M:3/4\nL:1/4\nK:C\nC | D E F | G A B | c3 |]"))
    assert piece.bars == [0.0, 3.0, 6.0, 9.0]
    assert _notes(piece)[0][0] == 2.0  # the pickup sits on beat 3


def test_meter_change_round_trips() -> None:
    # tinyNotation: music21's ABC reader ignores an M: field in the middle of a tune
    part = music21.converter.parse("tinyNotation: 3/4 c4 d e f g a 2/4 b c' 6/8 d'4. e'8 f' g'")
    piece = _assert_bars_aligned(music21.stream.Score([part]))
    assert piece.bars == [0.0, 3.0, 6.0, 8.0]
    assert piece.time_signature_changes == [(6.0, 2, 4), (8.0, 6, 8)]


def test_expansion_failure_keeps_the_score() -> None:
    class Broken:
        def expandRepeats(self) -> None:  # noqa: N802 (music21's name)
            raise ValueError("unbalanced repeats")

    from seqgen.music.music21_io import _expand_repeats

    broken = Broken()
    assert _expand_repeats(broken) == (broken, ["repeats not expanded: ValueError"])


def test_round_trip_f1_on_chorales_and_folk_tunes(oneill: dict[int, Any]) -> None:
    pieces = [piece_from_music21(music21.corpus.parse(f"bach/bwv{n}")) for n in ("66.6", "269", "347")]
    pieces += [piece_from_music21(score) for score in oneill.values()]
    codec = GridTokenizer.fit(pieces, steps_per_quarter=24)
    assert roundtrip_f1(pieces, codec)["f1"] >= 0.99


def test_pieces_without_bars_follow_the_meter() -> None:
    notes = [Note(60 + i, i * 1.5, 1.0) for i in range(8)]
    piece = Piece(tracks=[Track("Piano", 0, False, notes)], time_signature=(3, 4))
    codec = GridTokenizer.fit([piece])
    ids = codec.encode(piece)
    assert ids.count(codec.index["Bar"]) == 4
    back = codec.decode(ids)
    assert back.bars == [0.0, 3.0, 6.0, 9.0] and _notes(back) == _notes(piece)
    same = Piece(tracks=piece.tracks, time_signature=(3, 4), bars=[0.0, 3.0, 6.0, 9.0])
    assert codec.encode(same) == ids


def test_bars_survive_cache_and_transpose() -> None:
    piece = Piece(tracks=[Track("Melody", 0, False, [Note(60, 0.5, 1.0)])], bars=[0.0, 1.0, 5.0],
                  issues=["short bars: 1"])
    assert Piece.from_dict(piece.to_dict()) == piece
    assert transpose(piece, 2).bars == piece.bars
    old = piece.to_dict()
    del old["bars"], old["issues"]
    assert Piece.from_dict(old).bars == [] and Piece.from_dict(old).issues == []


#: Every meter a folk tune may have, so the alignment check does not depend on a fitted codec.
ALL_METERS = [(n, d) for n in range(1, 17) for d in (1, 2, 4, 8, 16)]


def misaligned_tunes(path: str) -> tuple[int, list[tuple[str, int, int, int]]]:
    """The number of tunes in an ABC file, and ``(tune, full measures, full ones without a Bar,
    Bars off a measure start)`` for each tune whose grid encoding (24 steps) puts a bar line where music21 has none, or none
    where a full measure starts. A measure shorter than its meter may share a bar with its
    neighbour (a part's last bar and the next part's pickup make one bar), so only full measures
    must start at a Bar."""
    codec = GridTokenizer(steps_per_quarter=24, time_signatures=ALL_METERS)
    out, tunes = [], 0
    for label, score in _abc_tunes(Path(path)):
        if isinstance(score, Exception) or not score.parts:
            continue
        try:
            expanded = score.expandRepeats()
        except Exception:  # kept unexpanded by the reader too
            expanded = score
        piece = piece_from_music21(expanded, expand_repeats=False)
        tunes += 1
        starts, full = _measures(expanded)
        full = {q for q in full if q < piece.end - 1e-9}
        bars = {q for q in codec.decode(codec.encode(piece)).bars if q < piece.end - 1e-9}
        if not full <= bars or not bars <= starts:
            out.append((label, len(full), len(full - bars), len(bars - starts)))
    return tunes, out


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SEQGEN_SLOW") != "1",
                    reason="parses ~3,000 ABC tunes twice over (many minutes); SEQGEN_SLOW=1 runs it")
def test_every_folk_tune_has_bars_at_music21_measures() -> None:
    from concurrent.futures import ProcessPoolExecutor

    from seqgen.music.corpus import FOLK_DEFAULT

    root = Path(music21.__file__).parent / "corpus"
    files = [str(f) for c in FOLK_DEFAULT for f in sorted((root / c).glob("*.abc"))]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        results = list(pool.map(misaligned_tunes, files))
    tunes, bad = sum(n for n, _ in results), [row for _, rows in results for row in rows]
    print(f"\nfolk: {len(bad)} of {tunes} tunes with bars off music21's measures: {bad}")
    assert tunes >= 3000
    # O'Neill's 0051-0100.abc: 1 of 50 (tune 94, whose 23/32 meter music21 misreads). All 3,068
    # tunes (run on 16 cores, 2026-11-27): 38 tunes, 1.2%; before issue 12, 22 of those 50 alone.
    assert len(bad) <= 0.02 * tunes
