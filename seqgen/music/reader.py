"""Any music file -> Pieces, never raising: which files are music, how each kind is parsed, and
which parsed pieces are too broken to learn from.

MIDI goes through pretty_midi (fast, keeps performance timing); notation formats go through
music21. Corpus folders hold whatever people collected, so a truncated download or a stray
non-MIDI ``.mid`` must cost one warning, not the whole run.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

from seqgen.music.score import Piece

MIDI_SUFFIXES = (".mid", ".midi")
SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".abc", ".krn")
MUSIC_SUFFIXES = MIDI_SUFFIXES + SCORE_SUFFIXES
#: Bytes of a ``.xml`` file searched for MusicXML's root element.
XML_HEAD_BYTES = 4096

#: Limits past which a file is taken to be corrupt rather than music.
MIN_QPM, MAX_QPM = 5.0, 1000.0
MAX_QUARTERS = 100_000.0  # about 14 hours at 120 qpm


def is_music_file(path: Path) -> bool:
    """True for files we parse as music. A plain ``.xml`` counts only if it is MusicXML, so a
    text corpus with a stray config file is not mistaken for a score collection."""
    suffix = path.suffix.lower()
    if suffix not in MUSIC_SUFFIXES or path.name.startswith("."):
        return False
    if suffix != ".xml":
        return True
    try:  # only the head: a MusicXML export can be gigabytes, and the root element is near the top
        with path.open("rb") as stream:
            head = stream.read(XML_HEAD_BYTES)
    except OSError:
        return False
    return b"score-partwise" in head or b"score-timewise" in head


def check_piece(piece: Piece) -> str | None:
    """Why a parsed piece cannot be used, or None when it can."""
    if piece.n_notes == 0:
        return "no notes"
    tempi = [t for _, t in piece.tempo_map()]
    if min(tempi) < MIN_QPM or max(tempi) > MAX_QPM:
        return f"absurd tempo ({min(tempi):.4g}..{max(tempi):.4g} quarter notes per minute)"
    if piece.end > MAX_QUARTERS:
        return f"absurd length ({piece.end:.0f} quarter notes)"
    if any(n.pitch < 0 or n.pitch > 127 for t in piece.tracks for n in t.notes):
        return "pitch outside 0..127"
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def read_music(path: Path, sustain: bool = True) -> list[tuple[str, Piece | str]]:
    """``[(label, piece or the reason it was skipped)]`` for one file; never raises.

    Labels are the file name, with ``#n`` appended for the n-th work of a multi-work file.
    ``sustain`` applies a MIDI file's sustain pedal to its notes (see ``midi_io.read_midi``).
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return [(path.name, "empty file (0 bytes)")]
        # pretty_midi warns and music21 prints to stderr about oddities; we report per file instead
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            if path.suffix.lower() in MIDI_SUFFIXES:
                from seqgen.music.midi_io import read_midi

                found: list[tuple[str, object]] = [(path.name, read_midi(path, sustain=sustain))]
            else:
                from seqgen.music.music21_io import read_score

                found = [(path.name + label[len(path.stem):], p) for label, p in read_score(path)]
    except Exception as exc:  # every parser has its own exception zoo; all mean "unreadable"
        return [(path.name, f"unreadable: {_one_line(exc)}")]
    out: list[tuple[str, Piece | str]] = []
    for label, piece in found:
        if isinstance(piece, Exception):
            out.append((label, f"unreadable: {_one_line(piece)}"))
        elif isinstance(piece, Piece):
            reason = check_piece(piece)
            out.append((label, reason if reason else piece))
    if not out:
        out.append((path.name, "no works in file"))
    return out
