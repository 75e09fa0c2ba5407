"""From a model to output: text streamed piece by piece, or music decoded into pieces.

The glue between the sampler (ids) and the writers (what an id means), shared by the CLI, the
server and the Python API. ``SampleRequest`` is the one place sampling defaults live, and the
guards on a request are checked here, once, for every caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.sampler import SamplingSettings, generate
from seqgen.tokenizer import Tokenizer


#: Default length of a sample: tokens of text, bars of music.
DEFAULT_LENGTH = 1000
DEFAULT_BARS = 16


@dataclass
class SampleRequest:
    """What to generate. ``length`` is in tokens; ``bars``, ``seconds`` and ``primer`` are for
    music, which with none of ``length``, ``bars`` or ``seconds`` given is DEFAULT_BARS bars long."""

    seed: str = ""
    length: int | None = None  # None: DEFAULT_LENGTH tokens (music: DEFAULT_BARS bars)
    num_samples: int = 1
    stop: str = ""  # text: end a sample just after it generates this
    random_seed: int | None = None
    settings: SamplingSettings = field(default_factory=SamplingSettings)
    bars: float = 0.0
    seconds: float = 0.0
    primer: str | None = None  # music: a file whose music the samples continue

    def __post_init__(self) -> None:
        if self.length is not None and self.length <= 0:
            raise SeqgenError(f"length must be at least 1, got {self.length}")
        if self.num_samples <= 0:
            raise SeqgenError(f"number of samples must be at least 1, got {self.num_samples}")
        if self.bars < 0 or self.seconds < 0 or (self.bars and self.seconds):
            raise SeqgenError("give a positive --bars or --seconds, not both")
        if self.seed and self.primer:
            raise SeqgenError("give --seed or --primer, not both")

    def generator(self) -> torch.Generator:
        g = torch.Generator()
        if self.random_seed is None:
            g.seed()
        else:
            g.manual_seed(self.random_seed)
        return g


def sample_text(model: LanguageModel, tokenizer: Tokenizer, request: SampleRequest,
                on_text: Callable[[int, str], None] | None = None) -> list[str]:
    """Generate ``request.num_samples`` texts that begin with the seed.

    ``on_text(sample_index, piece)`` is called with each new piece of text as soon as it exists
    (the seed first), which is how the CLI streams. A sample ends after ``length`` tokens or just
    after the first ``stop`` string it generates.
    """
    if tokenizer.domain != "text":
        raise SeqgenError("this checkpoint generates music, not text: pass --out FILE.mid (or .musicxml, .wav, .png)")
    seed_ids = tokenizer.encode_seed(request.seed)
    emit = on_text or (lambda _index, _text: None)
    texts = [request.seed] * request.num_samples
    done = [False] * request.num_samples
    for index in range(request.num_samples):
        emit(index, request.seed)
    stop = request.stop
    length = request.length or DEFAULT_LENGTH
    for ids in generate(model, seed_ids, length, request.settings, request.num_samples, request.generator(),
                        tokenizer.banned):
        for index, token in enumerate(ids.tolist()):
            if done[index]:
                continue
            piece = tokenizer.decode([token])
            if stop:
                before = len(texts[index])
                joined = texts[index] + piece
                # Search only text generated after the seed, from where a match could first end.
                hit = joined.find(stop, max(len(request.seed), before - len(stop) + 1))
                if hit >= 0:
                    piece = joined[before: hit + len(stop)]
                    done[index] = True
            texts[index] += piece
            emit(index, piece)
        if all(done):
            break
    return texts


#: Upper bound on tokens when a sample's length is given in bars or seconds instead.
MAX_MUSIC_TOKENS = 20_000
CHECK_EVERY = 64  # tokens between checks of whether every sample is long enough


def sample_music(model: LanguageModel, tokenizer: Tokenizer, request: SampleRequest) -> list[Any]:
    """Generate ``request.num_samples`` pieces (``seqgen.music.score.Piece``).

    The start is the seed's notes (``"C4 E4 G4"``), a primer file's encoding, or an empty piece.
    Length is ``request.length`` tokens, or ``bars``/``seconds`` of music (then up to
    MAX_MUSIC_TOKENS tokens); a sample also ends at its ``End`` token.
    """
    if tokenizer.domain != "music":
        raise SeqgenError("this checkpoint generates text: write it to stdout or a .txt file")
    if request.primer:
        start = tokenizer.encode_primer(request.primer)
    elif request.seed:
        start = tokenizer.encode_seed(request.seed)
    else:
        start = tokenizer.start_ids()
    bars, seconds = request.bars, request.seconds
    if not (bars or seconds or request.length):
        bars = DEFAULT_BARS
    limit = MAX_MUSIC_TOKENS if bars or seconds else request.length
    ids = [list(start) for _ in range(request.num_samples)]
    ended = [False] * request.num_samples
    stream = generate(model, start, limit, request.settings, request.num_samples, request.generator(), tokenizer.banned)
    for count, tokens in enumerate(stream, 1):
        for index, token in enumerate(tokens.tolist()):
            if not ended[index]:
                ids[index].append(token)
                ended[index] = token == tokenizer.end_id
        if all(ended) or (count % CHECK_EVERY == 0 and (bars or seconds)
                          and all(_long_enough(tokenizer.decode(s), bars, seconds) for s in ids)):
            break
    pieces = [tokenizer.decode(s) for s in ids]
    return [_cut(p, _end_quarter(p, bars, seconds)) for p in pieces] if bars or seconds else pieces


def _end_quarter(piece: Any, bars: float, seconds: float) -> float:
    """Where ``bars`` bars (in the opening meter) or ``seconds`` seconds end, in quarters."""
    if bars:
        num, den = piece.time_signature
        return bars * num * 4 / den
    to_seconds, quarter = piece.to_seconds(), 0.0
    while to_seconds(quarter) < seconds:
        if quarter > piece.end:
            return math.inf  # not that long yet
        quarter += 0.25
    return quarter


def _long_enough(piece: Any, bars: float, seconds: float) -> bool:
    return piece.end >= _end_quarter(piece, bars, seconds)


def _cut(piece: Any, end: float) -> Any:
    """Drop notes starting at or after ``end`` and shorten those that ring past it."""
    for track in piece.tracks:
        track.notes = [n for n in track.notes if n.start < end]
        for note in track.notes:
            note.duration = min(note.duration, end - note.start)
    return piece
