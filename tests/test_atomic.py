"""Atomic writes: the whole new file or the old one, never a half file, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqgen.atomic import atomic_path, atomic_write
from seqgen.errors import SeqgenError


def test_write_replaces_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.txt"
    atomic_write(target, "first")
    atomic_write(target, b"second")
    assert target.read_text() == "second" and [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_a_failing_writer_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.mid"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.suffix == ".mid" and tmp.parent == tmp_path  # writers may pick a format by suffix
        tmp.write_text("half")
        raise RuntimeError("writer crashed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.mid"]


def test_a_folder_that_cannot_exist_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(SeqgenError, match=r"could not write sample .*afile/x.txt: (File exists|Not a directory)"):
        atomic_write(tmp_path / "afile" / "x.txt", "text", "sample")
