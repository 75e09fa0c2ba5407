"""What every music tokenizer shares: a printable vocabulary, the track table fitted on the train
pieces, seeds from note names, primers from files, fair units, and a round-trip check.

The codecs themselves live in :mod:`seqgen.music.grid` (beat-relative, for scores) and
:mod:`seqgen.music.performance` (10 ms time shifts, for expressive MIDI).
"""

from __future__ import annotations

import bisect
import math
import re
from abc import abstractmethod
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from seqgen.errors import SeqgenError
from seqgen.music.score import Note, Piece, Track, retime
from seqgen.music.theory import beat_count
from seqgen.tokenizer import Tokenizer

#: 32 velocity levels (MidiTok's and Performance RNN's count); multiples of 4 so the usual DAW
#: velocities (64, 80, 96, 100, 112) survive a round trip exactly.
VELOCITIES = [1] + [4 * i for i in range(1, 32)]
#: Most track slots a codec keeps (the commonest tracks of the train pieces); others share a slot.
MAX_TRACKS = 64


def nearest_velocity(velocity: int) -> int:
    """The velocity level closest to ``velocity``."""
    i = bisect.bisect_left(VELOCITIES, velocity)
    if i == len(VELOCITIES):
        return VELOCITIES[-1]
    if i > 0 and velocity - VELOCITIES[i - 1] <= VELOCITIES[i] - velocity:
        return VELOCITIES[i - 1]
    return VELOCITIES[i]


def parse_seed(seed: str) -> list[int]:
    """Note names (``"C4"``, ``"C4 E4 G4"``, ``"F#3"``, ``"Bb5"``) -> MIDI pitches, strictly."""
    import pretty_midi

    words = [w for w in re.split(r"[\s,]+", seed.strip()) if w]
    if not words:
        raise SeqgenError('the seed is empty: give note names such as "C4" or "C4 E4 G4"')
    pitches = []
    for word in words:
        try:
            pitch = pretty_midi.note_name_to_number(word)
        except ValueError:
            raise SeqgenError(
                f"{word!r} in the seed is not a note name: use a letter, an optional # or b, "
                'and an octave, e.g. "C4", "F#3" or "Bb5"'
            ) from None
        if not 0 <= pitch <= 127:
            raise SeqgenError(f"{word!r} in the seed is outside the MIDI range C-1..G9")
        pitches.append(pitch)
    return pitches


#: Voice words from the highest to the lowest, for ordering a track table that lacks pitches.
_VOICE_ORDER = ["soprano", "treble", "melody", "lead", "violin", "flute", "alto", "viola", "tenor",
                "baritone", "cello", "bass"]


def _median(counts: Counter[int]) -> int:
    """The (lower) median of a pitch histogram."""
    total, seen = sum(counts.values()), 0
    for pitch in sorted(counts):
        seen += counts[pitch]
        if 2 * seen >= total:
            return pitch
    return 60


def _most_at_once(notes: Sequence[Note]) -> int:
    """Most notes of ``notes`` sounding at one time (a note ending where another starts does not
    overlap it), on a 1/96-quarter grid so float noise in a score's offsets is not an overlap."""
    events = sorted([(round(n.start * 96), 1) for n in notes] + [(round(n.end * 96), -1) for n in notes])
    most = sounding = 0
    for _, change in events:
        sounding += change
        most = max(most, sounding)
    return most


class TrackTable:
    """The tracks of the training corpus, by slot: names, GM programs and drum flags.

    Slots are the ``max_tracks`` commonest (name, program, drum) tracks, ordered by first
    appearance so a chorale corpus gets Soprano, Alto, Tenor, Bass as slots 0-3. A track of a
    new piece takes the slot of the same track, else of the same name, else of the same
    program, else of the same GM family (pianos, basses, ...), else of its position among the
    slots of its kind; a pitched track never lands in a drum slot nor a drum track in a pitched
    one, unless the table has no slot of that kind. Decoded tracks get the slot's name and
    program back. Fitted tables also note each pitched slot's median pitch (``"pitch"``), which
    :meth:`voices` uses to spread a seed chord over the voices by register, and each slot's
    lowest and highest pitch (``"low"``, ``"high"``) and most notes sounding at once
    (``"polyphony"``; 1 for a chorale voice) in the training data, which :meth:`limits` gives the
    grammar so a sample stays within what the corpus does.
    """

    def __init__(self, tracks: list[dict[str, Any]]) -> None:
        self.tracks = tracks or [{"name": "Piano", "program": 0, "is_drum": False}]
        self._exact = {}
        self._by_name = {}
        self._by_program = {}
        self._by_family = {}
        for i, t in enumerate(self.tracks):
            self._exact.setdefault((t["name"], t["program"], t["is_drum"]), i)
            self._by_name.setdefault((t["name"], bool(t["is_drum"])), i)
            self._by_program.setdefault((t["program"], bool(t["is_drum"])), i)
            self._by_family.setdefault((int(t["program"]) // 8, bool(t["is_drum"])), i)

    @classmethod
    def fit(cls, pieces: Sequence[Piece], max_tracks: int = MAX_TRACKS,
            written: Sequence[Piece] | None = None) -> TrackTable:
        """The table of ``pieces``, with pitches (median, range) from ``written`` if given: the
        pieces before transposition (copies in 12 keys would take a soprano to 87)."""
        counts: Counter[tuple[str, int, bool]] = Counter()
        first: dict[tuple[str, int, bool], int] = {}
        pitches: dict[tuple[str, int, bool], Counter[int]] = defaultdict(Counter)
        polyphony: Counter[tuple[str, int, bool]] = Counter()
        for piece in pieces:
            for track in piece.tracks:
                key = (track.name, int(track.program), bool(track.is_drum))
                counts[key] += 1
                first.setdefault(key, len(first))
                polyphony[key] = max(polyphony[key], _most_at_once(track.notes))
        for piece in pieces if written is None else written:
            for track in piece.tracks:
                if not track.is_drum:
                    pitches[(track.name, int(track.program), False)].update(int(n.pitch) for n in track.notes)
        kept = sorted(counts, key=lambda k: (-counts[k], first[k]))[:max_tracks]
        kept.sort(key=lambda k: first[k])
        tracks: list[dict[str, Any]] = []
        for key in kept:
            name, program, is_drum = key
            entry: dict[str, Any] = {"name": name, "program": program, "is_drum": is_drum}
            if pitches[key]:
                entry["pitch"] = _median(pitches[key])
                entry["low"], entry["high"] = min(pitches[key]), max(pitches[key])
            if polyphony[key]:
                entry["polyphony"] = polyphony[key]
            tracks.append(entry)
        return cls(tracks)

    def __len__(self) -> int:
        return len(self.tracks)

    def slot(self, track: Track, position: int) -> int:
        drum = bool(track.is_drum)
        key = (track.name, int(track.program), drum)
        lookups = (
            (self._exact, key),
            (self._by_name, (track.name, drum)),
            (self._by_program, (int(track.program), drum)),
            (self._by_family, (int(track.program) // 8, drum)),
        )
        for table, k in lookups:
            if k in table:
                return table[k]
        same_kind = [i for i, t in enumerate(self.tracks) if bool(t["is_drum"]) == drum]
        if same_kind:
            return same_kind[min(position, len(same_kind) - 1)]
        return min(position, len(self.tracks) - 1)  # no slot of this kind at all: share one

    def limits(self, slot: int) -> tuple[int, int, int | None]:
        """``(low, high, polyphony)`` of a slot as fitted: the pitch range and most notes at once
        its training data holds. A table saved without them (or with values that are not whole
        numbers in MIDI's range) bounds nothing: ``(0, 127, None)``."""
        entry = self.tracks[slot]
        low, high, most = entry.get("low"), entry.get("high"), entry.get("polyphony")
        if not (type(low) is int and type(high) is int and 0 <= low <= high <= 127):
            low, high = 0, 127
        return low, high, most if type(most) is int and 1 <= most <= 128 else None

    def voices(self) -> list[int]:
        """Pitched slots from the highest voice to the lowest (all slots if none is pitched).

        By each slot's median pitch where the table knows it (fitted tables do); a table saved
        without pitches falls back to the usual voice names (soprano ... bass, treble, lead,
        ... bass) and then to table order, which for chorales is already top first.
        """
        pitched = [i for i, t in enumerate(self.tracks) if not t["is_drum"]] or list(range(len(self.tracks)))
        if all("pitch" in self.tracks[i] for i in pitched):
            return sorted(pitched, key=lambda i: (-float(self.tracks[i]["pitch"]), i))

        def rank(i: int) -> tuple[int, int]:
            name = str(self.tracks[i]["name"]).lower()
            for r, word in enumerate(_VOICE_ORDER):
                if word in name:
                    return (r, i)
            return (_VOICE_ORDER.index("tenor"), i)  # unknown names sit mid-range, in table order

        return sorted(pitched, key=rank)

    def spread(self, pitches: Sequence[int]) -> dict[int, list[int]]:
        """Slot -> pitches for a chord: the top note to the top voice, the next to the next
        voice, and so on; notes beyond the voices go to the voice nearest in range (by median
        pitch if known, else the voice holding the nearest note already placed)."""
        voices = self.voices()
        ordered = sorted(pitches, reverse=True)
        out: dict[int, list[int]] = defaultdict(list)
        placed: list[tuple[int, int]] = []
        for k, pitch in enumerate(ordered):
            if k < len(voices):
                slot = voices[k]
            elif all("pitch" in self.tracks[v] for v in voices):
                slot = min(voices, key=lambda v: (abs(float(self.tracks[v]["pitch"]) - pitch), voices.index(v)))
            else:
                slot = min(placed, key=lambda ps: abs(ps[0] - pitch))[1]
            out[slot].append(pitch)
            placed.append((pitch, slot))
        return dict(out)

    def make_tracks(self, notes_by_slot: dict[int, list[Note]]) -> list[Track]:
        """Tracks (in slot order, empty ones left out) for decoded notes."""
        out = []
        for i in sorted(notes_by_slot):
            notes = notes_by_slot[i]
            if notes and 0 <= i < len(self.tracks):
                t = self.tracks[i]
                notes.sort(key=lambda n: (n.start, n.pitch))
                out.append(Track(name=t["name"], program=t["program"], is_drum=t["is_drum"], notes=notes))
        return out


class MusicTokenizer(Tokenizer):
    """Base of the music codecs: ids name readable events (``vocab()``), documents are Pieces."""

    #: State fields that size the vocabulary, and the largest value each may take.
    SIZE_LIMITS: ClassVar[dict[str, int]] = {}

    domain = "music"
    #: The header of decoded and seed pieces: codecs fit the corpus's commonest.
    default_tempo: float = 120.0
    default_meter: tuple[int, int] = (4, 4)
    #: Time axis the round trip is exact on ("quarters" or "seconds") and its tolerance.
    timebase = "quarters"
    tolerance = 1e-6

    def __init__(self, names: list[str], tracks: TrackTable, default_velocity: int = 80) -> None:
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.tracks = tracks
        self.default_velocity = default_velocity

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MusicTokenizer:
        """A codec's state is its constructor's keyword arguments plus ``kind``. Its sizes are
        checked first: the vocabulary is laid out from them, so a crafted 10^8 (a damaged or
        hostile checkpoint) would otherwise cost gigabytes before anything could compare it."""
        for key, limit in cls.SIZE_LIMITS.items():
            value = state.get(key, 1)
            if type(value) is not int or not 1 <= value <= limit:
                raise SeqgenError(f"the saved {cls.kind} codec's {key} is {value!r:.40}, not a whole number in 1..{limit}")
        return cls(**{k: v for k, v in state.items() if k != "kind"})

    @property
    def vocab_size(self) -> int:
        return len(self.names)

    def vocab(self) -> list[str]:
        """Readable name of every id, in id order (``Bar``, ``Pos_12``, ``Pitch_60``, ...)."""
        return list(self.names)

    def start_ids(self) -> list[int]:
        """What to feed the model to start a piece from nothing: the ``Piece`` token (the model
        then writes the header, e.g. time signature and tempo, itself)."""
        return [self.index["Piece"]]

    @property
    def end_id(self) -> int:
        """The ``End`` token: a sampler may stop a sample there (decode stops there anyway)."""
        return self.index["End"]

    def to_names(self, ids: Sequence[int]) -> list[str]:
        """Names of ``ids`` (``?`` for ids outside the vocabulary): for printing a sequence."""
        return [self.names[i] if 0 <= i < len(self.names) else "?" for i in ids]

    def from_names(self, names: Sequence[str]) -> list[int]:
        """Ids of readable names, e.g. from a hand-written or printed sequence."""
        try:
            return [self.index[n] for n in names]
        except KeyError as err:
            raise SeqgenError(f"{err.args[0]!r} is not in this {self.kind} vocabulary") from None

    @abstractmethod
    def encode(self, doc: Piece, end: bool = True) -> list[int]:
        """Ids of a whole piece: ``Piece`` first, ``End`` last unless ``end`` is False."""

    def _encode_seed(self, seed: str) -> list[int]:
        """The events that start a piece with these notes sounding together at its start, a
        quarter note long (no end token, so the model continues it), spread over the model's
        voices by register (:meth:`TrackTable.spread`): with Soprano, Alto, Tenor, Bass slots,
        ``"C4 E4 G4"`` puts G4 in the Soprano, E4 in the Alto and C4 in the Tenor."""
        pitches = parse_seed(seed)
        tracks = []
        for slot, chord in sorted(self.tracks.spread(pitches).items()):
            t = self.tracks.tracks[slot]
            notes = [Note(p, 0.0, 1.0, self.default_velocity) for p in sorted(chord)]
            tracks.append(Track(t["name"], t["program"], t["is_drum"], notes))
        return self.encode(self.seed_piece(tracks), end=False)

    def seed_piece(self, tracks: list[Track]) -> Piece:
        """A piece with the corpus's usual header (tempo, meter) around ``tracks``."""
        return Piece(tracks=tracks, tempo_qpm=self.default_tempo, time_signature=self.default_meter)

    def grammar(self, start_ids: Sequence[int], num_samples: int = 1, bars: float = 0.0, offset: float = 0.0,
                meter: Sequence[int] | None = None, controls: Any = None, seconds: float = 0.0) -> Any:
        """A constraint for ``seqgen.sampler.generate`` that lets only well-formed tokens be drawn,
        following ``num_samples`` samples that continue ``start_ids`` (see ``seqgen.music.grammar``);
        with ``bars``, a sample is done once its music reaches ``bars`` bars after quarter
        ``offset`` (in ``meter``, else the meter sampled there), or ``seconds`` long where the
        codec keeps time in seconds; ``controls`` (``seqgen.music.controls.Controls``) narrow it
        to a key, meter and tempo. None for a codec without one."""
        return None

    def with_tempo_of(self, piece: Piece, source: Piece) -> Piece:
        """``piece`` (decoded by this codec) under ``source``'s tempo map, e.g. a primer's. A codec
        timed in quarters keeps each note's quarters; one timed in seconds keeps its seconds
        (:func:`~seqgen.music.score.retime`), so the music is neither sped up nor slowed down."""
        if self.timebase == "seconds":
            return retime(piece, source.tempo_qpm, source.tempo_changes)
        piece.tempo_qpm, piece.tempo_changes = source.tempo_qpm, list(source.tempo_changes)
        return piece

    def encode_primer(self, path: str | Path) -> list[int]:
        """A MIDI/MusicXML/ABC file's first piece as ids, without the end token (``--primer``)."""
        return self.encode(self.read_primer(path), end=False)

    def read_primer(self, path: str | Path) -> Piece:
        """A MIDI/MusicXML/ABC file's first piece, or a one-line error saying why there is none."""
        from seqgen.music.reader import is_music_file, read_music

        path = Path(path).expanduser()
        if not path.is_file():
            raise SeqgenError(f"primer file {path} does not exist")
        if not is_music_file(path):
            raise SeqgenError(f"primer file {path} is not MIDI, MusicXML, ABC or kern")
        reasons = []
        for label, piece in read_music(path):
            if isinstance(piece, Piece):
                return piece
            reasons.append(f"{label}: {piece}")
        raise SeqgenError(f"primer file {path} could not be used ({'; '.join(reasons)})")

    def units(self, doc: Piece) -> dict[str, float]:
        """Notes, quarter notes, beats (of the time signature: a dotted quarter in 6/8) and seconds
        of the piece itself, the same for every codec, so nats per note / quarter / beat / second
        compare across tokenizations."""
        return {"notes": float(doc.n_notes), "quarters": float(doc.end), "beats": beat_count(doc),
                "seconds": float(doc.seconds)}


def _note_rows(piece: Piece, timebase: str) -> dict[tuple[str, int], list[tuple[float, float]]]:
    rows: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    seconds = piece.to_seconds()
    for track in piece.tracks:
        for n in track.notes:
            if timebase == "seconds":
                rows[(track.name, n.pitch)].append((seconds(n.start), seconds(n.end)))
            else:
                rows[(track.name, n.pitch)].append((n.start, n.end))
    for v in rows.values():
        v.sort()
    return rows


def roundtrip_f1(pieces: Sequence[Piece], codec: MusicTokenizer) -> dict[str, float]:
    """Note-level precision, recall and F1 of ``decode(encode(piece))`` against each piece.

    A decoded note matches an original one with the same track name and pitch whose onset and
    offset agree within the codec's tolerance (exact on the grid for ``grid``, half a 10 ms step
    for ``performance``). What a codec loses shows up here: for ``grid``, onsets and offsets off
    the grid (e.g. quintuplets), notes longer than the longest duration token, tracks beyond
    the track table; for ``performance``, timing finer than 10 ms and same-pitch overlaps.
    Grace notes are already gone when a score is read, so they do not count.
    """
    tol = codec.tolerance
    matched = n_orig = n_dec = 0
    for piece in pieces:
        original = _note_rows(piece, codec.timebase)
        decoded = _note_rows(codec.decode(codec.encode(piece)), codec.timebase)
        n_orig += sum(len(v) for v in original.values())
        n_dec += sum(len(v) for v in decoded.values())
        for key, notes in original.items():
            pool = decoded.get(key, [])
            used = [False] * len(pool)
            for start, end in notes:
                lo = bisect.bisect_left(pool, (start - tol, -math.inf))
                for j in range(lo, len(pool)):
                    if pool[j][0] > start + tol:
                        break
                    if not used[j] and abs(pool[j][1] - end) <= tol:
                        used[j] = True
                        matched += 1
                        break
    precision = matched / n_dec if n_dec else 1.0
    recall = matched / n_orig if n_orig else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "notes": float(n_orig)}
