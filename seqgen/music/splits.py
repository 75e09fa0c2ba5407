"""Which pieces of a music corpus are train, val and test.

Pieces are independent, so a split need not follow the corpus's order, and should not: the tail of
a list is one collection (the last book of tunes, the last composer's folder), and val and test
would then describe that collection alone. Whole pieces are dealt by a fixed, seeded shuffle
within each collection, so every collection contributes to val and test in its own proportion,
and no piece (nor a transposed copy of it) is in two splits.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from seqgen.corpus import Splits

#: Bump when the rule that deals pieces to splits changes, so token arrays built on the old
#: split are rebuilt (the parse cache does not depend on it).
SPLIT_VERSION = 1
#: The shuffle's seed: fixed, so every run and every machine gets the same split.
SPLIT_SEED = "seqgen-split-1"


def split_in_order(items: list[Any], val_frac: float, test_frac: float) -> Splits:
    """Whole items in order: train first, then the last ``val_frac`` share for validation and
    the last ``test_frac`` share for test; at least one item each when the share is positive
    and there are three or more items, and never an empty train split."""
    n = len(items)

    def count(frac: float) -> int:
        if frac <= 0 or n == 0:
            return 0
        k = round(n * frac)
        return max(1, k) if n >= 3 else k

    n_val, n_test = count(val_frac), count(test_frac)
    while n_val + n_test >= n and (n_val or n_test):
        if n_val >= n_test and n_val:
            n_val -= 1
        else:
            n_test -= 1
    cut = n - n_val - n_test
    return {"train": items[:cut], "val": items[cut:n - n_test], "test": items[n - n_test:]}


def collection_of(label: str) -> str:
    """The collection a piece belongs to: the top folder of its file (``oneills1850`` for
    ``oneills1850/0051-0100.abc#53``), or ``""`` for a file at the corpus's root."""
    return label.split("/", 1)[0] if "/" in label else ""


def _rank(label: str) -> str:
    """A piece's place in the shuffle: a seeded hash of its label, so adding or removing a piece
    moves no other piece to another split (beyond the shifted boundary)."""
    return hashlib.sha256(f"{SPLIT_SEED}:{label}".encode()).hexdigest()


def split_by_collection(labels: list[str], items: list[Any], val_frac: float, test_frac: float) -> Splits:
    """``items`` (named by ``labels``) dealt to splits in proportion to their collections.

    Each collection's pieces are put in seeded-shuffle order and spread evenly over one line (the
    k-th of n at (k + 1/2) / n), so the line's start holds every collection in proportion to its
    size; val and test (sized by :func:`split_in_order` over the whole corpus) are taken from
    that start. So each collection is in val and test once those hold at least one piece per
    collection, and small collections never lose their whole train share. Within a split,
    pieces keep the corpus's order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[collection_of(label)].append(index)
    place: dict[int, tuple[float, str]] = {}
    for name, indices in groups.items():
        for k, i in enumerate(sorted(indices, key=lambda i: _rank(labels[i]))):
            place[i] = ((k + 0.5) / len(indices), _rank(name))
    line = sorted(range(len(items)), key=place.__getitem__)
    dealt = split_in_order(line[::-1], val_frac, test_frac)  # val and test from the line's end: its start
    split_of = {i: split for split, chosen in dealt.items() for i in chosen}
    return {split: [item for i, item in enumerate(items) if split_of[i] == split] for split in ("train", "val", "test")}
