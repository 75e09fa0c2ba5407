"""Parse many music files on all cores, with a progress bar, in a stable order, never raising.

Music21 needs tens of milliseconds per score and a folk collection holds thousands, so files are
spread over a process pool. Workers answer with plain data (``Piece.to_dict()``) or the reason a
file was skipped, which is also what the corpus cache stores.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgen.music.reader import read_music
from seqgen.music.score import Piece


@dataclass(frozen=True)
class Source:
    """One file to parse; ``label`` names its pieces, ``split`` is set for split-folder layouts."""

    path: str
    label: str
    split: str | None = None


def _parse(source: Source) -> list[tuple[str, dict[str, Any] | str]]:
    """Worker: one file -> ``[(label, piece as plain data | reason skipped)]``; never raises."""
    try:
        found = read_music(Path(source.path))
    except Exception as exc:  # a worker must always answer
        return [(source.label, f"unreadable: {type(exc).__name__}: {exc}")]
    out: list[tuple[str, dict[str, Any] | str]] = []
    for name, piece in found:
        label = source.label + name[len(Path(source.path).name):]
        if isinstance(piece, Piece):
            if not piece.title or piece.title == Path(source.path).stem:
                piece.title = label
            out.append((label, piece.to_dict()))
        else:
            out.append((label, piece))
    return out


def parse_sources(sources: list[Source], desc: str) -> tuple[list[tuple[Source, str, dict]], list[tuple[str, str]]]:
    """Parse files in parallel (all cores) with a progress bar, keeping the sources' order."""
    from tqdm.auto import tqdm

    results: list[list[tuple[str, Any]] | None] = [None] * len(sources)
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                  len(sources))
    with tqdm(total=len(sources), desc=desc, unit="file", disable=None, leave=False) as bar:
        if workers <= 1 or len(sources) < 4:
            for i, source in enumerate(sources):
                results[i] = _parse(source)
                bar.update()
        else:
            # fork: workers inherit the imported parsers instead of importing music21 again
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {pool.submit(_parse, s): i for i, s in enumerate(sources)}
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        results[i] = future.result()
                    except Exception as exc:  # a worker died (out of memory, crash in C code)
                        results[i] = [(sources[i].label, f"parser crashed: {type(exc).__name__}")]
                    bar.update()
    entries, skipped = [], []
    for source, found in zip(sources, results):
        for label, item in found or []:
            if isinstance(item, dict):
                entries.append((source, label, item))
            else:
                skipped.append((label, item))
    return entries, skipped
