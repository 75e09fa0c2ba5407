"""The performance codec keeps time in seconds, and its output keeps the tempo and meter of its
source: the corpus's usual ones for a sample from nothing, the primer's for a continuation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqgen.config import ModelConfig
from seqgen.generate import SampleRequest, sample_music
from seqgen.model import LanguageModel
from seqgen.music.performance import PerformanceTokenizer
from seqgen.music.score import Note, Piece, Track, retime
from seqgen.music.writers import write_music
from seqgen.tokenizer import tokenizer_from_state


def waltz(tempo: float, bars: int = 4) -> Piece:
    notes = [Note(60 + i % 5, float(i), 1.0) for i in range(3 * bars)]
    return Piece([Track("Piano", 0, False, notes)], tempo_qpm=tempo, time_signature=(3, 4))


def rows(piece: Piece) -> list[tuple[int, float, float]]:
    return sorted((n.pitch, round(n.start, 6), round(n.duration, 6)) for t in piece.tracks for n in t.notes)


def test_decoded_pieces_take_the_corpus_tempo_and_meter() -> None:
    codec = PerformanceTokenizer.fit([waltz(72), waltz(72), waltz(140)])
    back = codec.decode(codec.encode(waltz(72)))
    assert (back.tempo_qpm, back.time_signature) == (72.0, (3, 4))  # was always 120 and 4/4
    for got, want in zip(rows(back), rows(waltz(72)), strict=True):  # quarters come back too, to 10 ms
        assert got == pytest.approx(want, abs=0.01)
    again = tokenizer_from_state(codec.state_dict())
    assert (again.default_tempo, again.default_meter) == (72.0, (3, 4))  # type: ignore[attr-defined]
    seed = again.decode(again.encode_seed("C4"))
    assert seed.tempo_qpm == 72.0 and rows(seed) == [(60, 0.0, pytest.approx(1.0, abs=0.01))]  # a quarter long
    old = {k: v for k, v in codec.state_dict().items() if not k.startswith("default_t")}
    assert tokenizer_from_state(old).decode(codec.encode(waltz(72))).tempo_qpm == 120.0  # older checkpoints


def test_retime_keeps_seconds() -> None:
    piece = waltz(60)
    moved = retime(piece, 120.0, [(6.0, 90.0)])
    assert moved.tempo_qpm == 120.0 and moved.tempo_changes == [(6.0, 90.0)]
    before, after = piece.to_seconds(), moved.to_seconds()
    for a, b in zip(sorted(n.start for n in piece.tracks[0].notes), sorted(n.start for n in moved.tracks[0].notes)):
        assert after(b) == pytest.approx(before(a))
    assert moved.to_quarters()(moved.seconds_at(7.5)) == pytest.approx(7.5)


def test_a_continuation_keeps_the_primer_tempo_and_meter(tmp_path: Path) -> None:
    torch.manual_seed(0)
    codec = PerformanceTokenizer.fit([waltz(120, 8)])
    model = LanguageModel(ModelConfig(layers=1, hidden=16, embed=8, dropout=0, vocab_size=codec.vocab_size)).eval()
    with torch.no_grad():
        model.head.bias[codec.end_id] = -50.0
    primer = waltz(84, 4)
    primer.tempo_changes = [(6.0, 63.0)]
    path = write_music(primer, tmp_path / "primer.mid")
    piece = sample_music(model, codec, SampleRequest(primer=str(path), length=40, random_seed=1))[0]
    assert (piece.tempo_qpm, piece.time_signature) == (84.0, (3, 4))
    assert piece.tempo_changes == [(6.0, 63.0)]
    seconds = piece.to_seconds()
    first = sorted((n.start, n.pitch) for n in piece.tracks[0].notes)[:12]
    # the primer's notes sound when they did in the primer (they used to move: 120 qpm quarters
    # read at 84 qpm), and sit on the primer's beats
    assert [pytest.approx(q, abs=0.02) for q, _ in first] == [float(i) for i in range(12)]
    assert seconds(first[-1][0]) == pytest.approx(primer.seconds_at(11.0), abs=0.01)
