"""A corpus as the model sees it: ``seqgen corpus info`` (facts, and for music the codec's
round-trip F1) and ``seqgen corpus export`` (each piece decoded from its tokens, as MIDI).

Both fit the codec exactly as training does (:func:`seqgen.dataset.prepare`, under the same data
settings, sharing its cache), so what a user hears or reads here is what a run learns from: notes
off the grid moved onto it, long notes cut, tracks mapped to the track table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqgen.config import DataConfig
from seqgen.corpus import SPLITS, Corpus, corpus_info, load_corpus
from seqgen.dataset import prepare
from seqgen.errors import SeqgenError
from seqgen.paths import slug
from seqgen.tokenizer import Tokenizer


def _music_view(corpus: Corpus, data: DataConfig) -> tuple[Tokenizer, dict[str, list[Any]]]:
    """The codec training would fit on a music corpus, and its pieces by split (as written: the
    transposed train copies are left out)."""
    if corpus.domain != "music":
        raise SeqgenError(f"{data.corpus!r} is a text corpus: export and round-trip checks are for music")
    tokenizer = prepare(corpus, data).tokenizer
    return tokenizer, {s: list(docs) for s, docs in corpus.splits(data.val_frac, data.test_frac).items()}


def corpus_report(data: DataConfig) -> dict[str, Any]:
    """What ``seqgen corpus info`` prints: the corpus's facts and split sizes; for music also the
    note-level round-trip F1 of its codec (fitted on train, as training does) over all pieces."""
    corpus = load_corpus(data.corpus, data.encoding)
    info = corpus_info(corpus, data.val_frac, data.test_frac)
    if corpus.domain == "music":
        from seqgen.music.codecs import roundtrip_f1

        tokenizer, splits = _music_view(corpus, data)
        result = roundtrip_f1([p for s in SPLITS for p in splits[s]], tokenizer)  # type: ignore[arg-type]
        info["codec"] = f"{tokenizer.kind} ({tokenizer.vocab_size:,} tokens)"
        info["round-trip F1"] = f"{result['f1']:.5f} (precision {result['precision']:.5f}, recall {result['recall']:.5f})"
    return info


def export_corpus(data: DataConfig, out: str | Path, limit: int = 0) -> list[Path]:
    """Write each piece of ``data.corpus`` as the model sees it: encoded and decoded by the codec
    training fits, as ``out/<split>/<nnnn>-<title>.mid``, train then val then test, at most
    ``limit`` files (0: all). Returns the paths written."""
    from seqgen.music.writers import write_midi

    tokenizer, splits = _music_view(load_corpus(data.corpus, data.encoding), data)
    out = Path(out).expanduser()
    written: list[Path] = []
    for split in SPLITS:
        for number, piece in enumerate(splits[split], 1):
            if limit and len(written) >= limit:
                return written
            path = out / split / f"{number:04d}-{slug(piece.title, fallback='piece')}.mid"
            path.parent.mkdir(parents=True, exist_ok=True)
            decoded = tokenizer.decode(tokenizer.encode(piece))
            decoded.title, decoded.key = piece.title, piece.key
            write_midi(decoded, path)
            written.append(path)
    return written
