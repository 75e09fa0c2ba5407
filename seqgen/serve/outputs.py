"""Where music generations put their files, and how many generations may run at once.

The server writes each generation's .mid, .musicxml, .wav and .png into a private temporary
folder under a random id and serves back only the names it wrote there, so a request can never
name a path of its own. The newest KEEP_OUTPUTS generations, at most MAX_OUTPUT_BYTES of them, are
kept; the folder goes when the server stops. A format that cannot be written is that sample's
error, never the request's: the other formats' files are kept. ``Slots`` caps generations running
at once, answering 429 beyond the cap.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any

from seqgen.errors import SeqgenError
from seqgen.serve.errors import ApiError

KEEP_OUTPUTS = 64  # music generations whose files are kept
MAX_OUTPUT_BYTES = 256 * 1024**2  # and at most this many bytes of them (the newest always stays)
#: Longest piece rendered to .wav (120 s is 5 to 10 MB of it): pretty_midi's synthesis holds
#: the whole piece in memory, ~1.8 GB per track for 5,000 s, and a performance model's 5,000
#: tokens can ask for ~650 s a sample. Longer pieces get no .wav; their other files are written.
MAX_AUDIO_SECONDS = 120
KEEP_PRIMERS = 32  # uploaded primer files kept
MAX_PRIMER_BYTES = 2 * 1024**2  # largest primer file accepted
FORMATS = {"midi": ".mid", "musicxml": ".musicxml", "wav": ".wav", "png": ".png"}
MEDIA = {".mid": "audio/midi", ".musicxml": "application/vnd.recordare.musicxml+xml", ".wav": "audio/wav",
         ".png": "image/png"}
log = logging.getLogger("seqgen.serve")


class Outputs:
    """Files written by music generations: a private temp folder, random ids, known names only."""

    def __init__(self, keep: int = KEEP_OUTPUTS, max_bytes: int = MAX_OUTPUT_BYTES) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="seqgen-serve-"))
        self.keep, self.max_bytes = keep, max_bytes
        self.lock = threading.Lock()
        self.files: OrderedDict[str, dict[str, tuple[Path, str]]] = OrderedDict()
        self.sizes: dict[str, int] = {}  # bytes of each generation's files
        self.primers: OrderedDict[str, Path] = OrderedDict()  # uploaded primer files by id

    def save(self, stem: str, pieces: list[Any]) -> tuple[str, list[dict[str, Any]]]:
        """Write each piece in every format under a new id; the id and, per sample, its facts as
        the MIDI file holds them, its voices' notes (for the page's piano roll), the URLs of its
        files, one audio stem per voice (for solo and mute) and the formats that failed (one
        failing spares the others). ``stem`` (a safe file-name part) begins download names."""
        from seqgen.music.midi_io import piece_to_midi
        from seqgen.music.written import written_facts, written_voices

        token = secrets.token_hex(16)
        folder = self.root / token
        folder.mkdir()
        files: dict[str, tuple[Path, str]] = {}
        samples = []

        def write(piece: Any, name: str, download: str) -> str | None:
            failure = write_one(piece, folder / name)
            if not failure:
                files[name] = (folder / name, download)
            return failure

        try:
            for number, piece in enumerate(pieces, 1):
                midi = piece_to_midi(piece)
                entry: dict[str, Any] = {"sample": number, **written_facts(piece, midi),
                                         "voices": written_voices(midi), "files": {}, "stems": [], "errors": {}}
                for fmt, suffix in FORMATS.items():
                    name = f"sample-{number}{suffix}"
                    failure = write(piece, name, f"{stem}-{token[:6]}-{number}{suffix}")
                    if failure:
                        entry["errors"][fmt] = failure
                    else:
                        entry["files"][fmt] = f"/api/files/{token}/{name}"
                voiced = [t for t in piece.tracks if t.notes]  # the MIDI file's tracks, in its order
                if len(voiced) > 1 and "wav" in entry["files"]:
                    for index, track in enumerate(voiced):
                        name = f"sample-{number}-voice-{index}.wav"
                        if not write(replace(piece, tracks=[track]), name, f"{stem}-{token[:6]}-{number}-{index}.wav"):
                            entry["stems"].append(f"/api/files/{token}/{name}")
                    if len(entry["stems"]) != len(voiced):  # all or none: a missing voice would fall silent
                        entry["stems"] = []
                samples.append(entry)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.add(token, files)
        return token, samples

    def add(self, token: str, files: dict[str, tuple[Path, str]]) -> None:
        """Offer ``files`` (name -> (path, download name)) under ``token``; drop the oldest
        generations beyond ``keep`` or ``max_bytes``."""
        size = sum(path.stat().st_size for path, _ in files.values())
        with self.lock:
            self.files[token], self.sizes[token] = files, size
            while len(self.files) > 1 and (len(self.files) > self.keep or sum(self.sizes.values()) > self.max_bytes):
                old, _ = self.files.popitem(last=False)
                del self.sizes[old]
                shutil.rmtree(self.root / old, ignore_errors=True)

    def find(self, token: str, name: str) -> tuple[Path, str]:
        """The path and download name of a file the server wrote, or a 404."""
        with self.lock:
            found = self.files.get(token, {}).get(name)
        if found is None or not found[0].is_file():
            raise ApiError(404, "no such file (outputs of old generations are removed)")
        return found

    def add_primer(self, name: str, data: bytes) -> tuple[str, Path]:
        """Keep an uploaded primer file under a new id (the newest KEEP_PRIMERS stay); its id and
        path. ``name`` is the client's file name: only its suffix is used."""
        token = secrets.token_hex(16)
        folder = self.root / "primers" / token
        folder.mkdir(parents=True)
        path = folder / f"primer{Path(name).suffix.lower()}"
        path.write_bytes(data)
        with self.lock:
            self.primers[token] = path
            while len(self.primers) > KEEP_PRIMERS:
                old, _ = self.primers.popitem(last=False)
                shutil.rmtree(self.root / "primers" / old, ignore_errors=True)
        return token, path

    def primer(self, token: str) -> Path:
        """The path of an uploaded primer, or a 400 that says to upload it (again)."""
        with self.lock:
            path = self.primers.get(token)
        if path is None or not path.is_file():
            raise ApiError(400, "unknown primer: upload the file again (old uploads are removed)")
        return path

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def write_one(piece: Any, path: Path) -> str | None:
    """Write ``piece`` to ``path`` (its suffix picks the format); None, or why it was not written.
    Any failure is caught: the writers sit on music21 and pretty_midi, which raise many types."""
    from seqgen.music.writers import write_music  # music21 and friends: only once music is asked for

    if path.suffix == ".wav" and piece.seconds > MAX_AUDIO_SECONDS:
        return (f"no audio for a piece over {MAX_AUDIO_SECONDS} s (this one is {piece.seconds:.0f} s): "
                "download the MIDI to hear it")
    try:
        write_music(piece, path)
    except SeqgenError as err:
        return str(err)
    except Exception:
        log.exception("writing %s failed", path.name)
        return f"could not write the {path.suffix} file (see the server's log)"
    return None


class Slots:
    """At most ``limit`` generations at once; one more is refused with a 429."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sem = threading.BoundedSemaphore(limit)

    def take(self) -> None:
        if not self.sem.acquire(blocking=False):
            raise ApiError(429, f"{self.limit} generations are already running; try again when one finishes")

    def give(self) -> None:
        self.sem.release()
