"""Token arrays: a corpus's splits encoded once, cached on disk, memory-mapped on later runs.

Layout: ``<cache>/<corpus>/<key>/{train,val,test}.bin`` plus ``meta.json`` (dtype, lengths, the
units per split for bits-per-character or nats-per-note) and ``tokenizer.pt``. The key hashes the
corpus fingerprint and every setting that changes the tokens, so a changed source or setting
builds a fresh cache instead of reusing a stale one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqgen.config import DataConfig
from seqgen.corpus import SPLITS, Corpus, load_corpus
from seqgen.errors import SeqgenError
from seqgen.paths import cache_dir, slug
from seqgen.tokenizer import Tokenizer, fit_tokenizer, tokenizer_class, tokenizer_from_state

CACHE_VERSION = 3  # 2: music units hold quarters and beats of the time signature; 3: ranges as written


@dataclass
class TokenData:
    """Everything training and evaluation need from a corpus."""

    tokenizer: Tokenizer
    arrays: dict[str, np.ndarray]  # split -> 1-D token ids (memory-mapped)
    units: dict[str, dict[str, float]]  # split -> {"chars": ..} or {"notes": .., "beats": ..}
    corpus_name: str
    domain: str
    copies: int = 1  # versions of each train document (music: keys it is transposed to)


def default_tokenizer(corpus: Corpus) -> str:
    return "grid" if corpus.domain == "music" else "char"


def prepare(corpus: Corpus, data: DataConfig) -> TokenData:
    """Load the token arrays for ``corpus`` under ``data``'s settings, building them if needed."""
    kind = data.tokenizer or default_tokenizer(corpus)
    settings = {
        "version": CACHE_VERSION,
        "corpus": corpus.fingerprint(),
        "tokenizer": kind,
        "codec": {"version": tokenizer_class(kind).version, **fit_options(kind, data, corpus)},
        "val_frac": data.val_frac,
        "test_frac": data.test_frac,
        "transpose": data.transpose if corpus.domain == "music" else None,
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_dir() / slug(corpus.name) / f"{kind}-{key}"
    if not (folder / "meta.json").exists():
        _build(corpus, data, kind, folder)
    return _load(folder, corpus, corpus.copies(data.transpose))


def fit_options(kind: str, data: DataConfig, corpus: Corpus) -> dict[str, Any]:
    """The settings tokenizer ``kind`` is fitted with: only those it declares, so the cache key
    holds every setting that changes its ids and none that does not. A grid of 0 steps is the
    corpus's own (``Corpus.grid_steps``)."""
    offered = {"vocab_size": data.vocab_size, "steps_per_quarter": data.grid_steps or corpus.grid_steps,
               "max_duration": data.max_duration, "max_shift": data.max_shift}
    return {name: offered[name] for name in tokenizer_class(kind).fit_options}


def prepare_matching(data: DataConfig, tokenizer_state: dict[str, Any]) -> TokenData:
    """Token arrays for a checkpoint's data settings, refused if the corpus no longer yields the
    tokenizer the checkpoint was trained with (its ids would mean something else)."""
    tokens = prepare(load_corpus(data.corpus, data.encoding), data)
    if tokens.tokenizer.state_dict() != tokenizer_state:
        raise SeqgenError(f"the corpus {data.corpus!r} has changed since this checkpoint was trained "
                          "(its tokenizer differs), so its token ids no longer match")
    return tokens


def _build(corpus: Corpus, data: DataConfig, kind: str, folder: Path) -> None:
    domain = tokenizer_class(kind).domain
    if domain != corpus.domain:
        raise SeqgenError(f"tokenizer {kind!r} is for {domain}, but corpus {corpus.name!r} is {corpus.domain}")
    splits = corpus.splits(data.val_frac, data.test_frac)
    written = splits["train"]
    splits["train"] = corpus.augment(written, data.transpose)
    # Text tokenizers ignore ``written``; music ones take their tracks' ranges from it.
    tokenizer = fit_tokenizer(kind, splits["train"], written=written, **fit_options(kind, data, corpus))
    dtype = np.uint16 if tokenizer.vocab_size <= 2**16 else np.int32
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".build-"))
    try:
        meta: dict[str, Any] = {"dtype": np.dtype(dtype).name, "lengths": {}, "units": {}}
        for split in SPLITS:
            units: dict[str, float] = {}
            with open(tmp / f"{split}.bin", "wb") as f:
                length = 0
                for doc in splits[split]:
                    ids = tokenizer.encode_array(doc).astype(dtype)
                    ids.tofile(f)
                    length += len(ids)
                    for name, amount in tokenizer.units(doc).items():
                        units[name] = units.get(name, 0) + amount
            meta["lengths"][split] = length
            meta["units"][split] = units
        torch.save(tokenizer.state_dict(), tmp / "tokenizer.pt")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if folder.exists():  # a concurrent build finished first; keep theirs
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load(folder: Path, corpus: Corpus, copies: int) -> TokenData:
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {}
    for split in SPLITS:
        n = meta["lengths"][split]
        arrays[split] = (
            np.memmap(folder / f"{split}.bin", dtype=meta["dtype"], mode="r", shape=(n,))
            if n else np.zeros(0, dtype=meta["dtype"])
        )
    tokenizer = tokenizer_from_state(torch.load(folder / "tokenizer.pt", weights_only=True))
    return TokenData(tokenizer, arrays, meta["units"], corpus.name, corpus.domain, copies)

