"""Scores (MusicXML, ABC, kern, ...) <-> Piece through music21, which does all the parsing.

A score is notation: ties, chords, grace notes, pickup bars and voices. A Piece is what sounds,
so on the way in ties are merged, chords become several notes, grace notes are dropped and
repeats and first/second endings are expanded (as the tune is played). A pickup bar is padded at
the front so that it starts on its beat, and the measures' own starts become ``Piece.bars``.
"""

from __future__ import annotations

import re

from fractions import Fraction
from pathlib import Path
from typing import Any

from seqgen.music.midi_io import normalise_key
from seqgen.music.score import Note, Piece, Track

#: Velocity of a score note with no dynamics marking (music21 realises "no marking" as ~mf too).
DEFAULT_VELOCITY = 80


def _program(part: Any, inst: Any, name: str) -> tuple[int, bool]:
    """GM program (0-based) and drum flag for a part: the score's own instrument, else what
    music21 guesses from the part name (``"Soprano"`` -> voice oohs), else piano."""
    from music21 import instrument

    program = getattr(inst, "midiProgram", None)
    is_drum = isinstance(inst, instrument.UnpitchedPercussion) or getattr(inst, "midiChannel", None) == 9
    if program is None and name:
        try:
            program = instrument.fromString(name).midiProgram
        except Exception:  # music21 raises InstrumentException for names it does not know
            program = None
    return (int(program) if program is not None else 0), bool(is_drum)


def _pickup_shift(part: Any) -> float:
    """Quarters missing from an incomplete first bar (anacrusis), 0 when it is complete."""
    measures = part.getElementsByClass("Measure")
    if not measures:
        return 0.0
    first = measures[0]
    if first.paddingLeft:
        return float(first.paddingLeft)
    try:
        missing = float(first.barDuration.quarterLength - first.duration.quarterLength)
    except Exception:
        return 0.0
    return missing if first.number == 0 and len(measures) > 1 and missing > 0 else 0.0


def _bars(part: Any, shift: float) -> tuple[list[float], list[int]]:
    """Bar starts in quarters and the numbers of the bars between the first and the last whose
    notes do not fill their meter, e.g. where music21 dropped a note (one with an ``H`` fermata
    in ABC). Two short bars that make one full bar (a part ending on the beat before the next
    part's pickup) are notation, not a fault: they count as one bar, whose downbeat is the
    first's. The padded pickup bar starts at 0."""
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        return [], []
    lengths = [float(m.duration.quarterLength) for m in measures]
    full = [_bar_length(m) for m in measures]
    completes = [False] + [lengths[i - 1] < full[i - 1] and lengths[i - 1] + lengths[i] == full[i - 1]
                           for i in range(1, len(measures))]
    starts = sorted({0.0} | {float(m.offset) + shift for m, done in zip(measures[1:], completes[1:]) if not done})
    short = [int(measures[i].number) for i in range(1, len(measures) - 1)
             if lengths[i] < full[i] and not completes[i] and not completes[i + 1]]
    return starts, short


def _bar_length(measure: Any) -> float:
    """Quarters in a full bar of the measure's meter (its own length when it has no meter)."""
    try:
        return float(measure.barDuration.quarterLength)
    except Exception:  # music21 raises when no time signature is in force
        return float(measure.duration.quarterLength)


def _expand_repeats(score: Any) -> tuple[Any, list[str]]:
    """The score with repeats and first/second endings played out, or as printed (with the
    reason as an issue) when music21 cannot expand it: the notes are still worth keeping."""
    try:
        return score.expandRepeats(), []
    except Exception as exc:  # music21 raises several types on unbalanced repeat marks
        return score, [f"repeats not expanded: {type(exc).__name__}"]


def _track_from_flat(flat: Any, name: str, program: int, is_drum: bool, shift: float) -> Track:
    notes: list[Note] = []
    velocity = DEFAULT_VELOCITY
    for el in flat.getElementsByClass(["Note", "Chord", "Dynamic"]):
        if "Harmony" in el.classes:  # chord symbols above a tune are not sounding notes
            continue
        if "Dynamic" in el.classes:
            if el.volumeScalar is not None:
                velocity = max(1, min(127, round(el.volumeScalar * 127)))
            continue
        length = float(el.duration.quarterLength)
        if el.duration.isGrace or length <= 0:
            continue
        own = el.volume.velocity if el.volume is not None else None
        vel = int(own) if own else velocity
        start = float(el.offset) + shift
        for p in el.pitches:
            notes.append(Note(int(p.midi), start, length, vel))
    notes.sort(key=lambda n: (n.start, n.pitch))
    return Track(name=name, program=program, is_drum=is_drum, notes=notes)


def piece_from_music21(score: Any, title: str = "", expand_repeats: bool = True) -> Piece:
    """Each part becomes its own track, named after the part (Soprano, Alto, ...)."""
    from music21 import key as m21key
    from music21 import stream

    issues: list[str] = []
    if expand_repeats:
        score, issues = _expand_repeats(score)
    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    shift = _pickup_shift(parts[0])
    bars, short = _bars(parts[0], shift)
    if short:
        issues.append("short bars: " + ", ".join(map(str, short)))
    tracks: list[Track] = []
    first_flat = None
    for i, part in enumerate(parts):
        flat = part.flatten()
        flat.stripTies(inPlace=True)  # in place: the copy would cost more than the parse
        if first_flat is None:
            first_flat = flat
        inst = part.getInstrument(returnDefault=False) if hasattr(part, "getInstrument") else None
        fallback = "Melody" if len(parts) == 1 else f"Part {i + 1}"
        name = (getattr(part, "partName", None) or getattr(inst, "instrumentName", None) or fallback).strip()
        program, is_drum = _program(part, inst, name)
        track = _track_from_flat(flat, name, program, is_drum, shift)
        if track.notes:
            tracks.append(track)

    tempo_qpm, tempo_changes = 120.0, []
    time_signature, meter_changes = (4, 4), []
    key = None
    if first_flat is not None:
        for mark in first_flat.getElementsByClass("MetronomeMark"):
            qpm = mark.getQuarterBPM()
            if not qpm or qpm <= 0:
                continue
            q = float(mark.offset) + shift if mark.offset > 0 else 0.0
            if q <= 0:
                tempo_qpm = float(qpm)
            elif float(qpm) != (tempo_changes[-1][1] if tempo_changes else tempo_qpm):
                tempo_changes.append((q, float(qpm)))
        for ts in first_flat.getElementsByClass("TimeSignature"):
            q = float(ts.offset) + shift if ts.offset > 0 else 0.0
            meter = (int(ts.numerator), int(ts.denominator))
            if q <= 0:
                time_signature = meter
            elif meter != (meter_changes[-1][1:] if meter_changes else time_signature):
                meter_changes.append((q, *meter))
        signatures = first_flat.getElementsByClass("KeySignature")
        if signatures:
            ks = signatures[0]
            k = ks if isinstance(ks, m21key.Key) else ks.asKey("major")
            key = normalise_key(f"{k.tonic.name} {k.mode}")

    meta = getattr(score, "metadata", None)
    name = (getattr(meta, "title", None) or getattr(meta, "movementName", None) or "") if meta else ""
    return Piece(
        tracks=tracks,
        tempo_qpm=tempo_qpm,
        time_signature=time_signature,
        key=key,
        title=title or name,
        tempo_changes=tempo_changes,
        time_signature_changes=meter_changes,
        bars=bars,
        issues=issues,
    )


#: ABC's one-letter fermata before a note (``HA2``), outside any quoted text. music21's tokenizer
#: skips every note token that starts with ``H`` (meant for stray ``Hx``/``Hy`` marks), so the
#: note itself is lost and its bar comes out short (O'Neill's tunes 53 and 58).
_FERMATA = re.compile(r"(?<![A-Za-z!])H(?=[~.]*[\^_=]*[A-Ga-g])")


def spell_fermatas(text: str) -> str:
    """ABC text with each ``H`` fermata before a note written ``!fermata!``, which music21 reads
    without dropping the note. Header fields (``H:`` is "history"), comments and quoted chord
    names or annotations are left alone."""
    out = []
    for line in text.splitlines(keepends=True):
        if re.match(r"\s*(%|[A-Za-z]:)", line):
            out.append(line)
            continue
        parts = line.split('"')
        parts[::2] = [_FERMATA.sub("!fermata!", part) for part in parts[::2]]
        out.append('"'.join(parts))
    return "".join(out)


def _abc_tunes(path: Path) -> list[tuple[str, Any]]:
    """Every tune of an ABC file as ``(label, score)``; one bad tune does not lose the others."""
    from music21 import abcFormat
    from music21.abcFormat import translate

    handler = abcFormat.ABCFile().readstr(spell_fermatas(path.read_text(encoding="utf-8")))
    if not handler.definesReferenceNumbers():
        return [(path.stem, translate.abcToStreamScore(handler))]
    tunes: list[tuple[str, Any]] = []
    for number, sub in sorted(handler.splitByReferenceNumber().items()):
        try:
            tunes.append((f"{path.stem}#{number}", translate.abcToStreamScore(sub)))
        except Exception as exc:  # music21 raises many types on odd ABC
            tunes.append((f"{path.stem}#{number}", exc))
    return tunes


def read_score(path: Path) -> list[tuple[str, Piece | Exception]]:
    """Parse a score file with music21: ``[(label, piece or the error that tune raised)]``.

    A file may hold several works (an ABC tune book, an Opus); each comes back on its own, so
    one unreadable tune is skipped without losing its neighbours.
    """
    from music21 import converter, stream

    path = Path(path)
    if path.suffix.lower() == ".abc":
        found = _abc_tunes(path)
    else:
        parsed = converter.parse(path, forceSource=True)  # we cache Pieces ourselves
        if isinstance(parsed, stream.Opus):
            found = [(f"{path.stem}#{i + 1}", s) for i, s in enumerate(parsed.scores)]
        else:
            found = [(path.stem, parsed)]
    out: list[tuple[str, Piece | Exception]] = []
    for label, score in found:
        if isinstance(score, Exception):
            out.append((label, score))
            continue
        try:
            out.append((label, piece_from_music21(score, title=_title(score, label))))
        except Exception as exc:
            out.append((label, exc))
    return out


def _title(score: Any, label: str) -> str:
    meta = getattr(score, "metadata", None)
    return (getattr(meta, "title", None) or label) if meta else label


def piece_to_music21(piece: Piece, steps_per_quarter: int = 12) -> Any:
    """A music21 Score for notation software: one part per track, times quantised to the grid,
    notes that start and end together joined into chords, overlaps split into voices."""
    from music21 import chord, clef, instrument, metadata, meter, note, stream, tempo
    from music21 import key as m21key

    def grid(q: float) -> Fraction:
        return Fraction(round(q * steps_per_quarter), steps_per_quarter)

    score = stream.Score()
    score.metadata = metadata.Metadata(title=piece.title or "seqgen")
    meters = [(0.0, *piece.time_signature)] + sorted(piece.time_signature_changes)
    for index, track in enumerate(piece.tracks):
        part = stream.Part()
        part.partName = track.name
        if track.is_drum:  # a percussion part (clef, GM channel 10), not a piano in bass clef
            inst = instrument.UnpitchedPercussion()
            inst.midiChannel = 9
        else:
            try:
                inst = instrument.instrumentFromMidiProgram(track.program)
            except Exception:
                inst = instrument.Instrument()
        inst.partName = track.name
        part.insert(0, inst)
        if track.is_drum:
            part.insert(0, clef.PercussionClef())
        for q, num, den in meters:
            part.insert(grid(q), meter.TimeSignature(f"{num}/{den}"))
        if piece.key:
            tonic, _, mode = piece.key.partition(" ")
            try:
                part.insert(0, m21key.Key(tonic.replace("b", "-") if len(tonic) > 1 else tonic, mode or "major"))
            except Exception:
                pass
        if index == 0:
            for q, qpm in piece.tempo_map():
                part.insert(grid(q), tempo.MetronomeMark(number=round(qpm, 2)))
        groups: dict[tuple[Fraction, Fraction], list[Note]] = {}
        for n in track.notes:
            start = grid(n.start)
            length = max(grid(n.end) - start, Fraction(1, steps_per_quarter))
            groups.setdefault((start, length), []).append(n)
        for (start, length), notes in sorted(groups.items()):
            pitches = sorted({min(127, max(0, n.pitch)) for n in notes})
            el = note.Note(pitches[0]) if len(pitches) == 1 else chord.Chord(pitches)
            el.duration.quarterLength = length
            el.volume.velocity = max(1, min(127, notes[0].velocity))
            part.insert(start, el)
        if part.notes and _has_overlaps(part):
            part.makeVoices(inPlace=True, fillGaps=True)
        score.insert(0, part)
    if not piece.tracks:  # a sample with no notes still makes a valid score: one bar's rest
        num, den = piece.time_signature
        part = stream.Part([meter.TimeSignature(f"{num}/{den}"), note.Rest(quarterLength=num * 4 / den)])
        part.partName = "Rest"
        score.insert(0, part)
    return score


def _has_overlaps(part: Any) -> bool:
    end = Fraction(-1)
    for el in part.notes:
        if el.offset < end:
            return True
        end = max(end, el.offset + el.duration.quarterLength)
    return False
