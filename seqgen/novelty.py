"""Novelty: the passages of a sample copied verbatim from the training split.

A model that has memorised its corpus can look good by loss and by ear while it recites. This
module finds, for every position of a sample, the longest stretch starting there that occurs in the
training split, using a suffix array of the split (built once per corpus and split with numpy
prefix doubling, kept on disk under the cache folder and in memory per process) and a binary
search per position. Text is matched character by character; music (``seqgen.music.novelty``)
matches runs of melodic intervals, so a transposed copy still counts.

The training split is the checkpoint's own: its corpus and split settings go through the corpus
code that training used (``Corpus.splits``), never a re-implementation of the split.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from seqgen.atomic import atomic_path
from seqgen.checkpoint import Checkpoint
from seqgen.config import DataConfig
from seqgen.corpus import load_corpus
from seqgen.errors import SeqgenError
from seqgen.paths import cache_dir

#: Largest training split (symbols) indexed: the suffix array sorts int64 keys of this many
#: positions, about 40 bytes each while it is built.
MAX_INDEX = 200_000_000
#: Indexes kept in memory by ``novelty_index`` (a server may hold a text and a music model).
KEEP_INDEXES = 2


@dataclass(frozen=True)
class Copy:
    """One passage of a sample found in the training split: ``length`` in the index's unit
    (characters, or notes for music), from ``start`` in the sample (characters, or the note index
    in ``track``), ``source`` says where in the training split, ``shown`` is the passage itself."""

    length: int
    start: int
    source: str
    shown: str
    track: str = ""


class NoveltyIndex(Protocol):
    """What text and music indexes offer: ``unit`` ("chars" or "notes"), the longest copy of a
    sample, and its longest few copies."""

    unit: str

    def longest(self, sample: Any) -> int: ...

    def copies(self, sample: Any, top: int = 5) -> list[Copy]: ...


def suffix_array(data: np.ndarray) -> np.ndarray:
    """Start positions of ``data``'s suffixes in sorted order, by prefix doubling: suffixes are
    ranked by their first k symbols, then by 2k using the rank k further on, until all differ.
    A few seconds for tiny-shakespeare's million characters (one sort per doubling)."""
    n = len(data)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rank = np.unique(data, return_inverse=True)[1].astype(np.int64).reshape(-1) + 1
    k = 1
    while True:
        second = np.zeros(n, dtype=np.int64)
        second[:max(n - k, 0)] = rank[k:]
        key = rank * (n + 2) + second
        order = np.argsort(key)
        ordered = key[order]
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.concatenate(([1], 1 + np.cumsum(ordered[1:] != ordered[:-1])))
        if rank[order[-1]] == n or k >= n:
            return order
        k *= 2


class SuffixIndex:
    """A sequence of symbols (int array) and its suffix array, answering "how much of this
    query, from each position, occurs somewhere in the data, and where"."""

    def __init__(self, data: np.ndarray, order: np.ndarray | None = None) -> None:
        if len(data) > MAX_INDEX:
            raise SeqgenError(f"the training split has {len(data):,} symbols, more than the {MAX_INDEX:,} "
                              "a novelty index holds")
        self.data = np.ascontiguousarray(data, dtype=np.int64)
        self.order = suffix_array(self.data) if order is None else order

    def _common(self, query: np.ndarray, position: int) -> int:
        """Length of the common prefix of ``query`` and the data from ``position``."""
        other = self.data[position:position + len(query)]
        differ = np.flatnonzero(query[:len(other)] != other)
        return int(differ[0]) if len(differ) else len(other)

    def match(self, query: np.ndarray) -> tuple[int, int]:
        """(length, data position) of the longest prefix of ``query`` found in the data. The
        suffix sharing most with ``query`` is next to where ``query`` would sort among them."""
        low, high = 0, len(self.order)
        best = (0, 0)
        while low < high:
            mid = (low + high) // 2
            position = int(self.order[mid])
            common = self._common(query, position)
            best = max(best, (common, position), key=lambda pair: pair[0])
            if common == len(query):
                return best
            if position + common == len(self.data) or self.data[position + common] < query[common]:
                low = mid + 1
            else:
                high = mid
        return best

    def matching(self, query: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each position i of ``query``: the longest length of ``query[i:]`` found in the data,
        and a data position where it is."""
        query = np.asarray(query, dtype=np.int64)
        lengths = np.zeros(len(query), dtype=np.int64)
        where = np.zeros(len(query), dtype=np.int64)
        for i in range(len(query)):
            lengths[i], where[i] = self.match(query[i:])
        return lengths, where


def passages(lengths: np.ndarray, top: int) -> list[int]:
    """Query positions of the longest ``top`` copies that do not overlap one another: a match
    that merely continues the one before it (one shorter, one later) is not a passage of its own."""
    starts = [i for i in range(len(lengths)) if lengths[i] and (i == 0 or lengths[i] >= lengths[i - 1])]
    chosen: list[int] = []
    for i in sorted(starts, key=lambda s: (-lengths[s], s)):
        if all(i + lengths[i] <= j or j + lengths[j] <= i for j in chosen):
            chosen.append(i)
            if len(chosen) == top:
                break
    return chosen


def cached_order(data: np.ndarray, label: str) -> np.ndarray:
    """The suffix array of ``data``, read from the cache folder when built before; the file is
    named by a hash of the data itself, so a changed corpus or split can never reuse a stale one."""
    digest = hashlib.sha256(np.ascontiguousarray(data, dtype=np.int64).tobytes()).hexdigest()[:20]
    path = cache_dir() / "novelty" / f"{label}-{digest}.npy"
    if path.exists():
        try:
            order = np.load(path)
            if order.shape == data.shape:
                return order
        except (OSError, ValueError):
            pass  # unreadable: rebuild it
    order = suffix_array(np.asarray(data, dtype=np.int64))
    try:
        with atomic_path(path, "novelty index") as tmp:
            np.save(tmp, order.astype(np.int32 if len(data) < 2**31 else np.int64))
    except SeqgenError:  # a read-only cache only costs the rebuild next time
        pass
    return order


class TextNovelty:
    """The training split's characters, matched verbatim."""

    unit = "chars"

    def __init__(self, text: str) -> None:
        self.text = text
        points = _code_points(text)
        self.index = SuffixIndex(points, cached_order(points, "text"))

    def longest(self, sample: str) -> int:
        """Characters of the longest stretch of ``sample`` found in the training split."""
        lengths, _ = self.index.matching(_code_points(sample))
        return int(lengths.max(initial=0))

    def copies(self, sample: str, top: int = 5) -> list[Copy]:
        """The longest ``top`` passages of ``sample`` found verbatim in the training split, longest
        first, with the line of the split each comes from."""
        lengths, where = self.index.matching(_code_points(sample))
        found = []
        for i in passages(lengths, top):
            line = self.text.count("\n", 0, int(where[i])) + 1
            found.append(Copy(int(lengths[i]), i, f"train line {line:,}", sample[i:i + int(lengths[i])]))
        return found


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


_INDEXES: dict[tuple[Any, ...], NoveltyIndex] = {}


def novelty_index(data: DataConfig) -> NoveltyIndex:
    """The novelty index of the training split that ``data`` (a checkpoint's data settings) names:
    text or music by the corpus's domain. Kept in memory for the next call with the same settings."""
    key = (data.corpus, data.encoding, data.val_frac, data.test_frac)
    if key not in _INDEXES:
        corpus = load_corpus(data.corpus, data.encoding)
        train = corpus.splits(data.val_frac, data.test_frac)["train"]
        if corpus.domain == "music":  # loaded by name, as corpus adapters are: text runs never load music
            index: NoveltyIndex = importlib.import_module("seqgen.music.novelty").MusicNovelty(list(train))
        else:
            index = TextNovelty("".join(train))
        while len(_INDEXES) >= KEEP_INDEXES:
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[key] = index
    return _INDEXES[key]


def file_copies(path: str | Path, checkpoint: str | Path | None, top: int = 5) -> tuple[NoveltyIndex, list[Copy]]:
    """The index of ``checkpoint``'s training split and the longest ``top`` passages of a file
    (text for a text model; MIDI, MusicXML, ABC or kern for a music one) copied from that split:
    what ``seqgen novelty`` prints."""
    ckpt = Checkpoint.load(checkpoint)
    config = ckpt.validate()
    path = Path(path).expanduser()
    if not path.is_file():
        raise SeqgenError(f"{path} does not exist or is not a file")
    index = novelty_index(config.data)
    if index.unit == "notes":
        from seqgen.tokenizer import tokenizer_from_state

        sample: Any = tokenizer_from_state(ckpt.tokenizer).read_primer(path)
    else:
        sample = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    return index, index.copies(sample, top)
