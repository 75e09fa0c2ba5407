"""Corpus input edge cases: content-keyed caches, late NUL bytes, cheap MusicXML sniffing, mixed
folders and files beside split folders."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from seqgen.corpus import load_corpus
from seqgen.errors import SeqgenError
from seqgen.music.corpus import music_corpus_from_path
from seqgen.music.reader import is_music_file
from seqgen.music.score import Note, Piece, Track
from seqgen.music.writers import write_music
from seqgen.text import shakespeare as shakespeare_module
from seqgen.text.corpus import text_corpus_from_path


def write_tunes(folder: Path, count: int, first: int = 60) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        notes = [Note(first + i + (k % 3), float(k), 1.0, 80) for k in range(8)]
        paths.append(write_music(Piece([Track("Melody", 73, False, notes)], tempo_qpm=100), folder / f"t{i}.mid"))
    return paths


def edit_in_place(path: Path) -> None:
    """Flip the last byte, keeping the size and the modification time."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_same_size_same_mtime_edits_change_the_fingerprint(tmp_path: Path) -> None:
    tunes = write_tunes(tmp_path / "tunes", 2)
    before = music_corpus_from_path(tmp_path / "tunes")
    assert before is not None
    edit_in_place(tunes[1])
    after = music_corpus_from_path(tmp_path / "tunes")
    assert after is not None and after.fingerprint() != before.fingerprint()
    assert after.cache_path != before.cache_path  # so the parsed pieces are not reused either

    text = tmp_path / "words.txt"
    text.write_text("to be or not to be\n")
    first = text_corpus_from_path(text).fingerprint()
    edit_in_place(text)
    assert text_corpus_from_path(text).fingerprint() != first


def test_same_size_play_edit_changes_the_shakespeare_fingerprint(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    plays = [tmp_path / "plays" / genre / f"{genre}.md" for genre in ("comedies", "tragedies")]
    for play in plays:
        play.parent.mkdir(parents=True)
        play.write_text("**ROMEO**\n\nBut soft, what light\n", encoding="utf-8")
    monkeypatch.setattr(shakespeare_module, "_plays", lambda: plays)
    first = shakespeare_module.shakespeare().fingerprint()
    assert shakespeare_module.shakespeare().fingerprint() == first
    edit_in_place(plays[1])
    assert shakespeare_module.shakespeare().fingerprint() != first


@pytest.mark.parametrize("nul_at", [100_000, (1 << 20) + 5])  # in the first read, and in a later one
def test_nul_bytes_past_the_first_8_kb_are_refused(tmp_path: Path, nul_at: int) -> None:
    path = tmp_path / "dump.txt"
    path.write_bytes(b"a" * nul_at + b"\0\0\0\0binary tail")
    with pytest.raises(SeqgenError, match=f"binary data.*byte offset {nul_at}\\b") as err:
        text_corpus_from_path(path).text()
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    wide = tmp_path / "wide.txt"  # UTF-16 is full of NUL bytes and is still text
    wide.write_bytes(("x" * 60_000 + "\n").encode("utf-16"))
    assert len(text_corpus_from_path(wide, "utf-16").text()) == 60_001


def test_is_music_file_reads_only_the_head_of_an_xml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "huge.xml"
    with big.open("wb") as f:
        f.write(b'<?xml version="1.0"?>\n<score-partwise version="4.0">')
        f.truncate(1 << 30)  # 1 GB, sparse: nothing but the head is ever on disk
    read: list[int] = []
    real_open = Path.open

    class Counting:
        def __init__(self, stream: object) -> None:
            self.stream = stream

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

        def read(self, size: int = -1) -> bytes:
            data = self.stream.read(size)
            read.append(len(data))
            return data

    def whole_file(self: Path) -> bytes:
        raise AssertionError(f"read all of {self}")

    monkeypatch.setattr(Path, "read_bytes", whole_file)
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: Counting(real_open(self, *a, **k)))
    assert is_music_file(big)
    assert 0 < sum(read) <= 4096


def test_folder_with_music_and_text_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write_tunes(folder, 2)
    (folder / "lyrics.txt").write_text("la la la\n")
    (folder / "more").mkdir()
    (folder / "more" / "poem.txt").write_text("a poem\n")
    for load in (music_corpus_from_path, lambda p: load_corpus(str(p))):
        with pytest.raises(SeqgenError, match=r"holds both music files \(2\) and \.txt files \(2\).*--corpus"):
            load(folder)
    for txt in folder.rglob("*.txt"):
        txt.unlink()
    (folder / "README.txt").write_text("where these tunes come from\n")  # notes about the data are fine
    corpus = music_corpus_from_path(folder)
    assert corpus is not None and len(corpus.pieces()) == 2


def test_files_beside_split_folders_are_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "layout"
    write_tunes(root / "train", 2)
    write_tunes(root / "valid", 1)
    write_tunes(root / "extra", 2)
    write_music(Piece([Track("Melody", 0, False, [Note(60, 0.0, 1.0, 80)])]), root / "loose.mid")
    with caplog.at_level(logging.WARNING, logger="seqgen.music.corpus"):
        corpus = music_corpus_from_path(root)
    assert corpus is not None
    assert [len(corpus.splits(0.1, 0.1)[s]) for s in ("train", "val", "test")] == [2, 1, 0]
    lines = [r.getMessage() for r in caplog.records]
    assert any("3 music file(s)" in line and "ignored" in line and "train/" in line for line in lines), lines
