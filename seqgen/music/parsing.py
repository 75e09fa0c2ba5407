"""Parse many music files on all cores, with a progress bar, in a stable order, never raising.

Music21 needs tens of milliseconds per score and a folk collection holds thousands, so files are
spread over a process pool. Workers answer with plain data (``Piece.to_dict()``) or the reason a
file was skipped, which is also what the corpus cache stores.

A worker that dies (a crash in C code, out of memory) breaks the whole pool and fails every file
still queued in it, so a broken pool's unfinished files are parsed again in a fresh pool, and a
file is reported ``parser crashed`` only when it kills a worker parsing it on its own.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
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


def _crashed(source: Source, exc: BaseException) -> list[tuple[str, Any]]:
    return [(source.label, f"parser crashed: {type(exc).__name__}")]


def _parse_in_pool(sources: list[Source], indices: list[int], workers: int, context: Any,
                   results: list[list[tuple[str, Any]] | None], done: Any) -> bool:
    """Parse ``sources[i]`` for ``i in indices`` in one pool, filling ``results``; True when the
    pool broke, leaving the files it had not finished at None (their failure says nothing)."""
    broken = False
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_parse, sources[i]): i for i in indices}
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except BrokenProcessPool:  # some worker died: not necessarily parsing this file
                broken = True
                continue
            except Exception as exc:  # this file's own failure (say, an answer that cannot be sent)
                results[i] = _crashed(sources[i], exc)
            done()
    return broken


def parse_sources(sources: list[Source], desc: str,
                  workers: int | None = None) -> tuple[list[tuple[Source, str, dict]], list[tuple[str, str]]]:
    """Parse files in parallel (``workers`` processes, default all cores) with a progress bar,
    keeping the sources' order. A file that crashes its worker costs only itself."""
    from tqdm.auto import tqdm

    results: list[list[tuple[str, Any]] | None] = [None] * len(sources)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(workers, len(sources))
    with tqdm(total=len(sources), desc=desc, unit="file", disable=None, leave=False) as bar:
        if workers <= 1 or len(sources) < 4:
            for i, source in enumerate(sources):
                results[i] = _parse(source)
                bar.update()
        else:
            # fork: workers inherit the imported parsers instead of importing music21 again
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            pending = list(range(len(sources)))
            while pending:
                before = len(pending)
                broken = _parse_in_pool(sources, pending, workers, context, results, bar.update)
                pending = [i for i in pending if results[i] is None]
                if not broken or not pending:
                    break
                if len(pending) == before:
                    # Nothing finished: the first files queued kill every pool. Parse them one at
                    # a time, each alone in its own process, so only a file that crashes by itself
                    # is reported (and the rest always progresses).
                    for i in pending[:workers]:
                        if _parse_in_pool(sources, [i], 1, context, results, bar.update):
                            results[i] = _crashed(sources[i], BrokenProcessPool())
                            bar.update()
                    pending = [i for i in pending if results[i] is None]
    entries, skipped = [], []
    for source, found in zip(sources, results):
        for label, item in found or []:
            if isinstance(item, dict):
                entries.append((source, label, item))
            else:
                skipped.append((label, item))
    return entries, skipped
