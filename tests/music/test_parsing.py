"""parse_sources: a file that kills its worker process costs only itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqgen.music import parsing
from seqgen.music.parsing import Source, parse_sources
from seqgen.music.score import Note, Piece, Track


def _fake_reader(crashers: set[str]):
    def read(path: Path) -> list[tuple[str, Piece | str]]:
        if path.name in crashers:
            os._exit(1)  # as a segfault in C code would: the worker dies without answering
        if path.name.startswith("empty"):
            return [(path.name, "no notes")]
        return [(path.name, Piece([Track("Piano", 0, False, [Note(60, 0.0, 1.0, 80)])]))]

    return read


@pytest.mark.parametrize("crashers", [{"f03.mid"}, {"f00.mid"}, {"f00.mid", "f01.mid", "f09.mid"}])
def test_a_crashing_file_costs_only_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           crashers: set[str]) -> None:
    monkeypatch.setattr(parsing, "read_music", _fake_reader(crashers))
    names = [f"f{i:02d}.mid" for i in range(12)] + ["empty.mid"]
    sources = [Source(str(tmp_path / name), name) for name in names]
    entries, skipped = parse_sources(sources, "test", workers=2)
    assert [label for _, label, _ in entries] == [n for n in names if n not in crashers and n != "empty.mid"]
    assert all(piece["tracks"] for _, _, piece in entries)
    want = [(n, "parser crashed: BrokenProcessPool") for n in names if n in crashers] + [("empty.mid", "no notes")]
    assert sorted(skipped) == sorted(want)


def test_parsing_without_crashes_keeps_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(parsing, "read_music", _fake_reader(set()))
    sources = [Source(str(tmp_path / f"g{i}.mid"), f"g{i}.mid", split="train") for i in range(6)]
    entries, skipped = parse_sources(sources, "test", workers=2)
    assert [(s.split, label) for s, label, _ in entries] == [("train", f"g{i}.mid") for i in range(6)]
    assert skipped == []
