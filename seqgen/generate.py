"""From a model to output: text streamed piece by piece, or music decoded into pieces.

The glue between the sampler (ids) and the writers (what an id means), shared by the CLI, the
server and the Python API. ``SampleRequest`` is the one place sampling defaults live, and the
guards on a request are checked here, once, for every caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from seqgen.cuda_step import sampling_device
from seqgen.errors import SeqgenError
from seqgen.model import LanguageModel
from seqgen.music.controls import Controls, parse_key, parse_meter
from seqgen.music.loops import CANDIDATES_PER_LOOP, best_loops
from seqgen.sampler import SamplingSettings, generate
from seqgen.tokenizer import Tokenizer


#: Default length of a sample: tokens of text, bars of music.
DEFAULT_LENGTH = 1000
DEFAULT_BARS = 16
#: Range of ``--tempo``, in quarter notes per minute.
MIN_TEMPO, MAX_TEMPO = 20.0, 300.0
#: How ``keep`` picks the best samples (see ``seqgen.ranking``).
RANKS = ("likelihood", "novelty", "balanced")


@dataclass
class SampleRequest:
    """What to generate. ``length`` is in tokens; ``bars``, ``seconds``, ``primer`` and the
    controls after them are for music, which with none of ``length``, ``bars`` or ``seconds`` given
    is DEFAULT_BARS bars long."""

    seed: str = ""
    length: int | None = None  # None: DEFAULT_LENGTH tokens (music: DEFAULT_BARS bars)
    num_samples: int = 1
    stop: str = ""  # text: end a sample just after it generates this
    random_seed: int | None = None
    settings: SamplingSettings = field(default_factory=SamplingSettings)
    bars: float = 0.0
    seconds: float = 0.0
    primer: str | None = None  # music: a file whose music the samples continue
    only_new: bool = False  # music: keep just the continuation of the primer, moved to quarter 0
    tempo: float | None = None  # music: the output's tempo in quarters per minute (the model gets the nearest)
    keep: int | None = None  # keep only the best this many of the num_samples (all, ranked, when only rank is set)
    rank: str | None = None  # how to pick them, one of RANKS (default likelihood)
    key: str | None = None  # music: "E minor": no pitch outside it is drawn, and it is the key signature
    time_signature: str | None = None  # music: "3/4": the meter of every bar
    loop: bool = False  # music: keep the samples (of several times as many) whose end leads back to bar 1
    free_voice_leading: bool = False  # music: let single-line voices move in parallel 5ths/8ves and cross
    device: str = "auto"  # where to sample: auto (a GPU for models of GPU_HIDDEN units), cpu, cuda, cuda:N

    def __post_init__(self) -> None:
        if self.length is not None and self.length <= 0:
            raise SeqgenError(f"length must be at least 1, got {self.length}")
        if self.num_samples <= 0:
            raise SeqgenError(f"number of samples must be at least 1, got {self.num_samples}")
        if self.bars < 0 or self.seconds < 0 or (self.bars and self.seconds):
            raise SeqgenError("give a positive --bars or --seconds, not both")
        if self.seed and self.primer:
            raise SeqgenError("give --seed or --primer, not both")
        if self.only_new and not self.primer:
            raise SeqgenError("--only-new keeps what follows a --primer: give one")
        if self.tempo is not None and not MIN_TEMPO <= self.tempo <= MAX_TEMPO:
            raise SeqgenError(f"tempo must be {MIN_TEMPO:g} to {MAX_TEMPO:g} quarters per minute, got {self.tempo:g}")
        if self.rank is not None and self.rank not in RANKS:
            raise SeqgenError(f"rank must be one of {', '.join(RANKS)}, got {self.rank!r}")
        if self.keep is not None and not 1 <= self.keep <= self.num_samples:
            raise SeqgenError(f"keep must be 1 to the number of samples ({self.num_samples}), got {self.keep}")
        if self.keep is not None or self.rank is not None:
            self.keep, self.rank = self.keep or self.num_samples, self.rank or RANKS[0]
        if self.time_signature and self.primer:
            raise SeqgenError("a --primer keeps its own meter: give --time-signature without one")
        if self.loop and (self.primer or self.seconds or (self.length and not self.bars) or self.bars % 1):
            raise SeqgenError("a --loop is a whole number of --bars on its own: give --bars, without --primer")
        self.controls()  # refuse a key or meter that cannot be read now, not after loading a model
        sampling_device(self.device, 0)  # and a device that is not there

    def controls(self) -> Controls:
        """The key, meter and tempo asked for, parsed (``seqgen.music.controls``)."""
        return Controls(key=parse_key(self.key) if self.key else None,
                        meter=parse_meter(self.time_signature) if self.time_signature else None,
                        tempo=self.tempo, voice_leading=not self.free_voice_leading)

    def generator(self) -> torch.Generator:
        g = torch.Generator()
        if self.random_seed is None:
            g.seed()
        else:
            g.manual_seed(self.random_seed)
        return g


def start_ids(tokenizer: Tokenizer, seed: str) -> list[int]:
    """What a sample starts from: the seed, or with none a fresh document (``Tokenizer.start_ids``)."""
    return tokenizer.encode_seed(seed) if seed else tokenizer.start_ids()


def sample_text(model: LanguageModel, tokenizer: Tokenizer, request: SampleRequest,
                on_text: Callable[[int, str], None] | None = None) -> list[str]:
    """Generate ``request.num_samples`` texts that begin with the seed (with none, a new document:
    the text starts with the model's first token).

    ``on_text(sample_index, piece)`` is called with each new piece of text as soon as it exists
    (the seed first), which is how the CLI streams. A sample ends after ``length`` tokens or just
    after the first ``stop`` string it generates.
    """
    if tokenizer.domain != "text":
        raise SeqgenError("this checkpoint generates music, not text: pass --out FILE.mid (or .musicxml, .wav, .png)")
    seed_ids = start_ids(tokenizer, request.seed)
    emit = on_text or (lambda _index, _text: None)
    texts = [request.seed] * request.num_samples
    done = [False] * request.num_samples
    for index in range(request.num_samples):
        emit(index, request.seed)
    stop = request.stop
    length = request.length or DEFAULT_LENGTH
    for ids in generate(model, seed_ids, length, request.settings, request.num_samples, request.generator(),
                        tokenizer.banned, device=request.device):
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
    MAX_MUSIC_TOKENS tokens); a sample also ends at its ``End`` token. Where the codec has a
    grammar (``grid``), only well-formed tokens are drawn, and with ``bars`` the piece cannot end
    before it has them: a sample stops as soon as a note reaches the last bar line. The grammar
    also keeps to the request's key, meter and tempo (``request.controls()``). With ``loop``,
    CANDIDATES_PER_LOOP times as many pieces are drawn and the best loops kept
    (``seqgen.music.loops``).
    """
    if tokenizer.domain != "music":
        raise SeqgenError("this checkpoint generates text: write it to stdout or a .txt file")
    primer = tokenizer.read_primer(request.primer) if request.primer else None
    if primer:
        start = tokenizer.encode(primer, end=False)
    elif request.seed:
        start = tokenizer.encode_seed(request.seed)
    else:
        start = tokenizer.start_ids()
    # New music begins on the bar line after the primer, so --bars counts new bars only.
    offset = _bar_line_after(primer, primer.end) if primer else 0.0

    controls = request.controls()

    def shaped(ids: list[int]) -> Any:
        piece = _with_meta(tokenizer.decode(ids), tokenizer, primer, request.tempo)
        piece.key = controls.key.name if controls.key else piece.key
        return piece

    bars, seconds = request.bars, request.seconds
    if not (bars or seconds or request.length):
        bars = DEFAULT_BARS
    limit = MAX_MUSIC_TOKENS if bars or seconds else request.length
    count = request.num_samples * (CANDIDATES_PER_LOOP if request.loop else 1)
    ids = [list(start) for _ in range(count)]
    ended = [False] * count
    # The codec's grammar lets only well-formed tokens be drawn; with bars it also holds End back
    # until, and ends a sample as soon as, its music reaches the requested bars.
    meter = primer.meter_at(offset) if primer else controls.meter
    grammar = tokenizer.grammar(start, count, bars=bars, offset=offset, meter=meter if bars else None,
                                controls=controls, seconds=seconds)
    if (controls.meter or request.loop) and tokenizer.timebase != "quarters":
        raise SeqgenError(f"--time-signature and --loop need bars; the {tokenizer.kind} codec keeps time in seconds")
    stream = generate(model, start, limit, request.settings, count, request.generator(),
                      tokenizer.banned, constraint=grammar, device=request.device)
    check = bool(seconds or bars)  # decode now and then to see the length (a grammar may not count it)
    for step, tokens in enumerate(stream, 1):
        for index, token in enumerate(tokens.tolist()):
            if not ended[index]:
                ids[index].append(token)
                ended[index] = token == tokenizer.end_id or (grammar is not None and grammar.done(index))
        if all(ended) or (check and step % CHECK_EVERY == 0
                          and all(_long_enough(shaped(s), offset, bars, seconds) for s in ids)):
            break
    pieces = [shaped(s) for s in ids]
    if bars or seconds:
        pieces = [_cut(p, _end_quarter(p, offset, bars, seconds)) for p in pieces]
    if request.only_new:
        pieces = [_from(p, offset) for p in pieces]
    if request.loop:
        pieces = best_loops(model, tokenizer, pieces, request.num_samples, int(bars))
    return [with_key(p) for p in pieces]


def _bar_line_after(piece: Any, quarter: float) -> float:
    """The first bar line at or after ``quarter``, following the piece's meter changes."""
    line = 0.0
    while line < quarter - 1e-9:
        num, den = piece.meter_at(line)
        line += max(num * 4 / den, 0.25)
    return line


def _with_meta(piece: Any, tokenizer: Tokenizer, primer: Any, tempo: float | None) -> Any:
    """Give a decoded piece the primer's tempo, meter, key and tracks (the codec keeps only its
    quantised tempo and its corpus's track names), and ``tempo`` when one is asked for."""
    if primer:
        piece = tokenizer.with_tempo_of(piece, primer)
        piece.time_signature = primer.time_signature
        piece.time_signature_changes = list(primer.time_signature_changes)
        piece.key, piece.title = primer.key, primer.title
        table = tokenizer.tracks
        owner = {}  # the track table's (name, program, drum) of a slot -> the primer track in it
        for position, track in enumerate(primer.tracks):
            slot = table.tracks[table.slot(track, position)]
            owner.setdefault((slot["name"], slot["program"], slot["is_drum"]), track)
        for track in piece.tracks:
            source = owner.get((track.name, track.program, track.is_drum))
            if source:
                track.name, track.program, track.is_drum = source.name, source.program, source.is_drum
    if tempo is not None:
        piece.tempo_qpm, piece.tempo_changes = float(tempo), []
    return piece


def with_key(piece: Any) -> Any:
    """Name the piece's key when it has none (the model writes no key), so MIDI and MusicXML get a
    key signature and notation software spells A major with three sharps, not accidentals.

    music21's Krumhansl-Schmuckler analysis over the pitched notes, weighted by duration."""
    notes = [n for t in piece.tracks if not t.is_drum for n in t.notes]
    if piece.key or not notes:
        return piece
    from music21 import note, stream

    from seqgen.music.midi_io import normalise_key

    melody = stream.Stream()
    for n in notes:
        melody.insert(n.start, note.Note(n.pitch, quarterLength=max(n.duration, 1 / 12)))
    found = melody.analyze("key")
    piece.key = normalise_key(f"{found.tonic.name} {found.mode}")
    return piece


def _from(piece: Any, offset: float) -> Any:
    """The music from ``offset`` on, moved to start at quarter 0, under the tempo and meter in
    force there (a DAW user drops it after the clip it continues)."""
    piece.tempo_qpm = [qpm for q, qpm in piece.tempo_map() if q <= offset][-1]
    piece.tempo_changes = [(q - offset, qpm) for q, qpm in piece.tempo_changes if q > offset]
    piece.time_signature = piece.meter_at(offset)
    piece.time_signature_changes = [(q - offset, n, d) for q, n, d in piece.time_signature_changes if q > offset]
    for track in piece.tracks:
        track.notes = [replace(n, start=n.start - offset) for n in track.notes if n.start >= offset - 1e-9]
    return piece


def _end_quarter(piece: Any, start: float, bars: float, seconds: float) -> float:
    """Where ``bars`` bars (in the meter at ``start``) or ``seconds`` seconds after ``start`` end,
    in quarters."""
    if bars:
        num, den = piece.meter_at(start)
        return start + bars * num * 4 / den
    to_seconds, quarter = piece.to_seconds(), start
    begin = to_seconds(start)
    while to_seconds(quarter) - begin < seconds:
        if quarter > piece.end:
            return math.inf  # not that long yet
        quarter += 0.25
    return quarter


def _long_enough(piece: Any, start: float, bars: float, seconds: float) -> bool:
    return piece.end >= _end_quarter(piece, start, bars, seconds)


def _cut(piece: Any, end: float) -> Any:
    """Drop notes starting at or after ``end`` and shorten those that ring past it."""
    for track in piece.tracks:
        track.notes = [n for n in track.notes if n.start < end]
        for note in track.notes:
            note.duration = min(note.duration, end - note.start)
    return piece
