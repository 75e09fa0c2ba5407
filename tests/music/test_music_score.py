"""The note model and the readers: plain-data round trip, tempo maps, transposition, ABC tune books,
and files of random bytes that must never make a reader raise."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen.music.reader import is_music_file, read_music
from seqgen.music.score import Note, Piece, Track, transpose

TUNE_BOOK = """X:1
T:First
M:6/8
L:1/8
K:D
A|dfa agf|e2d B2A|]

X:2
T:Broken
M:4/4
K:G
]]]]]((((

X:3
T:Third
M:3/4
L:1/4
K:Am
A B c|e2 d|c3|]
"""


def test_plain_data_round_trip() -> None:
    tracks = [Track("Lead", 81, False, [Note(60, 1 / 3, 2 / 3, 99)]), Track("Kit", 0, True, [Note(36, 0.0, 0.25)])]
    piece = Piece(tracks, tempo_qpm=97.5, time_signature=(6, 8), key="E minor", title="x",
                  tempo_changes=[(3.0, 60.0)], time_signature_changes=[(6.0, 9, 8)])
    again = Piece.from_dict(json.loads(json.dumps(piece.to_dict())))
    assert again == piece


def test_tempo_map_converts_quarters_to_seconds() -> None:
    piece = Piece([Track("a", 0, False, [Note(60, 0.0, 8.0)])], tempo_qpm=120,
                  tempo_changes=[(4.0, 60.0), (6.0, 240.0)])
    to_seconds = piece.to_seconds()
    assert [to_seconds(q) for q in (0, 2, 4, 5, 6, 8)] == [0.0, 1.0, 2.0, 3.0, 4.0, 4.5]
    assert piece.seconds == 4.5 and piece.end == 8.0
    assert piece.meter_at(100) == (4, 4)


def test_transpose_keeps_drums_and_range() -> None:
    piece = Piece([Track("Lead", 0, False, [Note(60, 0, 1), Note(125, 1, 1)]), Track("Kit", 0, True, [Note(36, 0, 1)])],
                  key="C major")
    up = transpose(piece, 5)
    assert [n.pitch for n in up.tracks[0].notes] == [65] and [n.pitch for n in up.tracks[1].notes] == [36]
    assert up.key is None and transpose(piece, 12).key == "C major"
    assert [n.pitch for n in piece.tracks[0].notes] == [60, 125]  # the original is untouched


def test_abc_tune_book_keeps_good_tunes(tmp_path: Path) -> None:
    path = tmp_path / "book.abc"
    path.write_text(TUNE_BOOK)
    (first, a), (second, b), (third, c) = read_music(path)
    assert (first, second, third) == ("book.abc#1", "book.abc#2", "book.abc#3")
    assert isinstance(a, Piece) and isinstance(c, Piece) and isinstance(b, str)
    assert (a.title, a.key, a.time_signature) == ("First", "D major", (6, 8))
    assert a.tracks[0].name == "Melody"
    assert a.tracks[0].notes[0].start == 2.5  # the pickup eighth ends the first (padded) bar
    assert (c.key, c.time_signature, c.n_notes) == ("A minor", (3, 4), 6)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".mid", ".musicxml", ".abc", ".krn", ".mxl"]),
       header=st.sampled_from([b"", b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk", b"<score-partwise>"]))
def test_random_bytes_never_raise(data: bytes, suffix: str, header: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"random{suffix}"
        path.write_bytes(header + data)
        result = read_music(path)
    assert result and all(isinstance(label, str) and isinstance(item, (Piece, str)) for label, item in result)


def test_music_files_are_recognised(tmp_path: Path) -> None:
    (tmp_path / "score.xml").write_text('<?xml version="1.0"?><score-partwise version="4.0"></score-partwise>')
    (tmp_path / "other.xml").write_text("<settings/>")
    assert is_music_file(tmp_path / "score.xml") and not is_music_file(tmp_path / "other.xml")
    for name in ("a.mid", "a.MIDI", "a.mxl", "a.musicxml", "a.abc", "a.krn"):
        assert is_music_file(tmp_path / name)
    assert not is_music_file(tmp_path / "a.txt") and not is_music_file(tmp_path / ".hidden.mid")


def test_unreadable_reasons_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "x.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\xff\xff")
    [(label, reason)] = read_music(tmp_path / "x.mid")
    assert label == "x.mid" and isinstance(reason, str) and "\n" not in reason and len(reason) < 200


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.abc").write_bytes(b"")
    assert read_music(tmp_path / "e.abc") == [("e.abc", "empty file (0 bytes)")]
