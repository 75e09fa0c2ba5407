"""Token arrays from a streamed text corpus: chunking must not change a single id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqgen.text import corpus as text_corpus
from seqgen.config import DataConfig
from seqgen.dataset import prepare
from seqgen.text.corpus import text_corpus_from_path

LINES = [f"{'ROMEO' if i % 3 else 'JULIET'}:\nline {i} of a play, with {'words ' * (i % 7)}and more.\n\n"
         for i in range(2_000)]


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_small_chunks_give_the_same_arrays(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "play.txt"
    path.write_text("".join(LINES).replace("\n", "\r\n"), encoding="utf-8")  # CRLF split across reads too
    data = DataConfig(corpus=str(path), tokenizer=kind, vocab_size=300, val_frac=0.1, test_frac=0.1)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "whole"))
    whole = prepare(text_corpus_from_path(path), data)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "chunked"))
    monkeypatch.setattr(text_corpus, "CHUNK_CHARS", 997)
    monkeypatch.setattr(text_corpus, "_CHUNK", 1_001)  # bytes per read
    chunked = prepare(text_corpus_from_path(path), data)
    assert whole.tokenizer.state_dict() == chunked.tokenizer.state_dict()
    for split in ("train", "val", "test"):
        assert np.array_equal(whole.arrays[split], chunked.arrays[split]), split
    assert whole.units == chunked.units
    text = "".join(LINES)
    assert sum(u["chars"] for u in whole.units.values()) == len(text)
    decoded = "".join(whole.tokenizer.decode(whole.arrays[s].tolist()) for s in ("train", "val", "test"))
    assert decoded == text
