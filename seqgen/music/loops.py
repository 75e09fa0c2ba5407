"""Loops (``--loop``): of candidate pieces exactly N bars long, keep those whose ending leads back
into their first bar, so the clip repeats seamlessly in a DAW.

A candidate is scored by playing its first bar again after its last: the model's negative
log-likelihood, in nats, of that repeated bar given the whole loop before it. The likelier the
return, the better the loop closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from seqgen.model import LanguageModel
from seqgen.music.codecs import MusicTokenizer
from seqgen.music.score import Piece, Track

#: Candidates generated per loop asked for; the best of them are kept.
CANDIDATES_PER_LOOP = 4


def closure_cost(model: LanguageModel, codec: MusicTokenizer, piece: Piece, bars: int) -> float:
    """Nats the model spends on the piece's first bar played again after its last (infinite for
    a piece that opens on silence: nothing to close on). The piece is ``bars`` bars of its opening
    meter long."""
    from seqgen.scoring import token_nll

    num, den = piece.meter_at(0.0)
    plain = replace(piece, bars=[])  # bars follow the meter, as they will when the clip repeats
    again = _first_bar(plain, num * 4 / den, bars * num * 4 / den)
    if not any(t.notes for t in again):
        return float("inf")
    looped = replace(plain, tracks=[replace(t, notes=t.notes + a.notes) for t, a in zip(plain.tracks, again)])
    once = codec.encode(plain, end=False)
    return float(token_nll(model, codec.encode(looped, end=False))[len(once) - 1:].sum())  # entry i: token i + 1


def _first_bar(piece: Piece, bar_quarters: float, at: float) -> list[Track]:
    """The piece's tracks holding just the notes of its first bar, cut at its end, moved to ``at``."""
    return [replace(t, notes=[replace(n, start=n.start + at, duration=min(n.duration, bar_quarters - n.start))
                              for n in t.notes if n.start < bar_quarters - 1e-9]) for t in piece.tracks]


def best_loops(model: LanguageModel, codec: MusicTokenizer, pieces: Sequence[Piece], keep: int,
               bars: int) -> list[Piece]:
    """The ``keep`` pieces (each ``bars`` bars long) with the lowest closure cost, best first."""
    costs = [closure_cost(model, codec, piece, bars) for piece in pieces]
    order = sorted(range(len(pieces)), key=lambda i: costs[i])
    return [pieces[i] for i in order[:keep]]
