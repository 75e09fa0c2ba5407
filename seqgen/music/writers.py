"""Write a Piece where people use it: a DAW (MIDI), notation software (MusicXML), ears (WAV), eyes (PNG).

``write_music`` picks the format from the file suffix. Every writer renders to a temporary file
beside the target and renames it into place, so an interrupted run never leaves half a file that
a DAW would choke on.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from seqgen.atomic import atomic_path
from seqgen.errors import SeqgenError
from seqgen.music.midi_io import piece_to_midi
from seqgen.music.score import Piece, bar_lines

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 22050


def write_midi(piece: Piece, path: Path) -> None:
    """Type-1 MIDI: a tempo/meter/key track, then one named track per Track with its program."""
    with atomic_path(path) as tmp:
        piece_to_midi(piece).write(str(tmp))


def write_musicxml(piece: Piece, path: Path, steps_per_quarter: int = 12) -> None:
    """MusicXML (``.mxl`` compressed) through music21, quantised to the grid and notated
    (measures, ties, beams, voices) by music21's makeNotation."""
    from seqgen.music.music21_io import piece_to_music21

    fmt = "mxl" if path.suffix.lower() == ".mxl" else "musicxml"
    score = piece_to_music21(piece, steps_per_quarter)
    with atomic_path(path) as tmp:
        try:
            score.write(fmt, fp=str(tmp))
        except Exception as exc:  # music21's notation step raises many types on odd input
            raise SeqgenError(f"music21 could not notate the piece for {path}: {exc}") from None


def _render_fluidsynth(piece: Piece, out: Path) -> bool:
    """Render with FluidSynth and the GM soundfont when both are installed; False otherwise."""
    binary = shutil.which("fluidsynth")
    if not binary or not SOUNDFONT.is_file():
        return False
    with tempfile.TemporaryDirectory() as folder:
        midi = Path(folder) / "piece.mid"
        piece_to_midi(piece).write(str(midi))
        cmd = [binary, "-ni", "-q", "-g", "0.5", "-F", str(out), "-r", str(SAMPLE_RATE), str(SOUNDFONT), str(midi)]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0 and out.is_file() and out.stat().st_size > 44


def write_wav(piece: Piece, path: Path) -> None:
    """An audio preview: FluidSynth with a GM soundfont if present, else pretty_midi's sine synth."""
    with atomic_path(path) as tmp:
        if _render_fluidsynth(piece, tmp):
            return
        audio = piece_to_midi(piece).synthesize(fs=SAMPLE_RATE) if piece.n_notes else np.zeros(SAMPLE_RATE // 2)
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        samples = (audio / peak * 0.9 if peak > 0 else audio) * 32767
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(samples.astype("<i2").tobytes())


def write_png(piece: Piece, path: Path) -> None:
    """A piano roll: time in quarter notes across, pitch up, one colour per track, bar lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    width = min(40.0, max(10.0, piece.end / 8))
    fig = Figure(figsize=(width, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    legend = []
    for i, track in enumerate(t for t in piece.tracks if t.notes):
        # one collection per track: tens of thousands of notes draw in a second, not a minute
        rows = np.array([(n.start, max(n.duration, 0.05), n.pitch) for n in track.notes], float)
        x0, x1, y = rows[:, 0], rows[:, 0] + rows[:, 1], rows[:, 2]
        boxes = np.stack([np.stack([x0, y - 0.4], 1), np.stack([x1, y - 0.4], 1),
                          np.stack([x1, y + 0.4], 1), np.stack([x0, y + 0.4], 1)], 1)
        colour = f"C{i % 10}"
        ax.add_collection(PolyCollection(boxes, facecolors=colour, edgecolors="black", linewidths=0.2))
        legend.append(Patch(facecolor=colour, edgecolor="black", label=track.name or f"program {track.program}"))
    ax.vlines(bar_lines(piece), 0, 1, transform=ax.get_xaxis_transform(), colors="0.85", linewidth=0.6, zorder=0)
    pitches = [n.pitch for t in piece.tracks for n in t.notes] or [60]
    low, high = min(pitches) - 2, max(pitches) + 2
    ticks = [p for p in range(low, high + 1) if p % 12 == 0]
    ax.set_yticks(ticks, [f"C{p // 12 - 1}" for p in ticks])
    ax.set_ylim(low, high)
    ax.set_xlim(0, max(piece.end, 1.0))
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("pitch")
    num, den = piece.time_signature
    ax.set_title(f"{piece.title or 'seqgen'}  ({num}/{den}, {piece.tempo_qpm:.0f} qpm, {piece.n_notes} notes)")
    if legend:
        ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format="png")


WRITERS: dict[str, Callable[[Piece, Path], None]] = {
    ".mid": write_midi,
    ".midi": write_midi,
    ".musicxml": write_musicxml,
    ".xml": write_musicxml,
    ".mxl": write_musicxml,
    ".wav": write_wav,
    ".png": write_png,
}


def write_music(piece: Piece, path: str | Path) -> Path:
    """Write ``piece`` in the format the suffix names; returns the path written."""
    path = Path(path).expanduser()
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        known = ", ".join(sorted(WRITERS))
        raise SeqgenError(f"cannot write music to {path.name!r}: supported suffixes are {known}")
    writer(piece, path)
    return path
