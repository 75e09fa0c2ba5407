"""Music corpora: music21's built-in collections and folders of MIDI/MusicXML/ABC/kern files.

Documents are :class:`~seqgen.music.score.Piece` objects in a stable order. Parsing is the slow
part (tens of milliseconds a score), so it runs on all cores once (:mod:`seqgen.music.parsing`)
and the result is cached as plain JSON under ``cache_dir()/music/<name>/<fingerprint>.json``;
a second load only reads that.
Unreadable files are skipped with one warning line each and counted, because real collections
always hold a few; only a corpus with no readable piece at all is an error.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from seqgen.atomic import atomic_write
from seqgen.corpus import Corpus, Splits, register_corpus, register_path_reader
from seqgen.errors import SeqgenError
from seqgen.fingerprint import content_fingerprint
from seqgen.music.parsing import Source, parse_sources
from seqgen.music.reader import is_music_file
from seqgen.music.score import Piece
from seqgen.music.score import transpose as transpose_piece
from seqgen.music.splits import SPLIT_VERSION, collection_of, split_by_collection
from seqgen.paths import cache_dir

log = logging.getLogger(__name__)

#: Bump when parsing changes what a Piece holds, so stale caches (ours and the token arrays keyed
#: by our fingerprint) are rebuilt. Independent of any codec.
ADAPTER_VERSION = 4  # 2: repeats expanded, Piece.bars and Piece.issues; 3: sustain pedal applied to MIDI; 4: ABC fermata notes kept
CACHE_FORMAT = 1
#: Folder names that mark a corpus laid out in its own splits.
SPLIT_FOLDERS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
#: Split shares that describe() reports sizes for (the CLI's defaults).
DESCRIBE_FRACS = (0.05, 0.05)
MAX_WARNINGS = 50


class MusicCorpus(Corpus):
    """Pieces parsed from a list of files, cached, split by a seeded shuffle within each
    collection (or by split folders)."""

    domain = "music"

    def __init__(self, name: str, sources: list[Source] | Callable[[], list[Source]], fingerprint: str,
                 source_text: str, given_splits: bool = False,
                 transform: Callable[[Piece], Piece] | None = None, grid_steps: int = 0) -> None:
        self.name = name
        self.grid_steps = grid_steps
        # Applied after the parse cache, so changing it never needs a re-parse.
        self.transform = transform
        # A callable defers finding the files (importing music21) until a cache miss needs them.
        self._sources = sources
        self._fingerprint = fingerprint
        self.source_text = source_text
        self.given_splits = given_splits
        self._entries: list[tuple[str, str | None, Piece]] | None = None  # (label, split, piece)
        self.skipped: list[tuple[str, str]] = []

    def fingerprint(self) -> str:
        """The parse cache's key plus the split rule's version: token arrays depend on both."""
        return f"{self._fingerprint}-split{SPLIT_VERSION}"

    @property
    def sources(self) -> list[Source]:
        if callable(self._sources):
            self._sources = self._sources()
        return self._sources

    @property
    def cache_path(self) -> Path:
        return cache_dir() / "music" / self.name / f"{self._fingerprint}.json"

    # -- loading ---------------------------------------------------------------------------
    def _load(self) -> list[tuple[str, str | None, Piece]]:
        if self._entries is not None:
            return self._entries
        data = self._read_cache()
        if data is None:
            entries, skipped = parse_sources(self.sources, f"parsing {self.name}")
            data = {
                "format": CACHE_FORMAT,
                "name": self.name,
                "entries": [{"label": label, "split": s.split, "piece": p} for s, label, p in entries],
                "skipped": [list(x) for x in skipped],
            }
            for label, reason in skipped[:MAX_WARNINGS]:
                log.warning("%s: skipped %s: %s", self.name, label, reason)
            if len(skipped) > MAX_WARNINGS:
                log.warning("%s: ... and %d more skipped", self.name, len(skipped) - MAX_WARNINGS)
            if data["entries"]:
                self._write_cache(data)
        self.skipped = [(a, b) for a, b in data["skipped"]]
        if self.skipped:
            log.warning("%s: %d unreadable file(s) or work(s) skipped, %d pieces read",
                        self.name, len(self.skipped), len(data["entries"]))
        if not data["entries"]:
            raise SeqgenError(
                f"no readable music in {self.source_text}: all {len(self.skipped)} file(s) or work(s) were "
                "unreadable, empty or without notes"
            )
        convert = self.transform or (lambda piece: piece)
        self._entries = [(e["label"], e["split"], convert(Piece.from_dict(e["piece"]))) for e in data["entries"]]
        if issues := self.issue_text():
            log.info("%s: pieces kept despite %s", self.name, issues)
        return self._entries

    def issue_text(self) -> str:
        """How many pieces carry each kind of reader issue, e.g. ``"short bars 20"``. They are
        kept: bars come from the score's own bar starts, so a short bar misplaces nothing."""
        counts = Counter(issue.split(":")[0] for _, _, p in self._load() for issue in p.issues)
        return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))

    def _read_cache(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("format") == CACHE_FORMAT else None

    def _write_cache(self, data: dict[str, Any]) -> None:
        """Atomically; a cache we cannot write only costs a re-parse."""
        try:
            atomic_write(self.cache_path, json.dumps(data, separators=(",", ":")))
        except SeqgenError as exc:
            log.warning("%s: %s", self.name, exc)

    # -- Corpus interface --------------------------------------------------------------------
    def pieces(self) -> list[Piece]:
        """All pieces in corpus order."""
        return [p for _, _, p in self._load()]

    def splits(self, val_frac: float, test_frac: float) -> Splits:
        """Whole pieces, dealt by a seeded shuffle within each collection (top folder), so each
        collection is in val and test (:mod:`seqgen.music.splits`). Split folders, when the
        corpus has them, are used as given and the fractions ignored."""
        entries = self._load()
        if self.given_splits:
            return {s: [p for _, split, p in entries if split == s] for s in ("train", "val", "test")}
        return split_by_collection([label for label, _, _ in entries], [p for _, _, p in entries], val_frac, test_frac)

    def augment(self, train_docs: list[Any], transpose: int) -> list[Any]:
        """Each train piece in every shift from ``-transpose + 1`` to ``+transpose`` semitones
        (12 keys for 6): the model hears every progression in every key, which helps it most
        where there are few pieces (Walder 2016). Val and test stay as written."""
        return [transpose_piece(p, k) if k else p for k in shifts(transpose) for p in train_docs]

    def copies(self, transpose: int) -> int:
        return len(shifts(transpose))

    def describe(self) -> dict[str, Any]:
        pieces = self.pieces()
        names = Counter(t.name for p in pieces for t in p.tracks)
        sizes = self.splits(*DESCRIBE_FRACS)
        if self.given_splits:
            split_text = "as given by folders"
        else:
            collections = len({collection_of(label) for label, _, _ in self._load()})
            split_text = "val {:.0%}, test {:.0%} of the pieces of each of {} collection(s), seeded shuffle".format(
                *DESCRIBE_FRACS, collections)
        return {
            "name": self.name,
            "domain": self.domain,
            "source": self.source_text,
            "pieces": len(pieces),
            "tracks": sum(len(p.tracks) for p in pieces),
            "notes": sum(p.n_notes for p in pieces),
            "quarters": round(sum(p.end for p in pieces), 1),
            "bars": sum(p.n_bars for p in pieces),
            "seconds": round(sum(p.seconds for p in pieces), 1),
            "hours": round(sum(p.seconds for p in pieces) / 3600, 2),
            "track names": ", ".join(f"{n} ({c})" for n, c in names.most_common(6)),
            "skipped files": len(self.skipped),
            "skipped": [list(x) for x in self.skipped],  # (file or work, why)
            "kept with issues": self.issue_text() or "none",
            "splits": ", ".join(f"{s} {len(sizes[s])}" for s in ("train", "val", "test")) + f" pieces ({split_text})",
            "cache": str(self.cache_path),
        }


# -- folders and files ---------------------------------------------------------------------------
#: Stems of .txt files that describe a music collection (README.txt, LICENSE.txt) rather than
#: being text to learn from, so they do not make a music folder "mixed".
ABOUT_STEMS = ("readme", "license", "licence", "copying", "authors", "credits", "changelog")


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _refuse_mixed(folder: Path, music: list[Path], found: list[Path]) -> None:
    """Music is tried before text, so the .txt files in a mixed folder would be dropped without a
    word; the user must say which kind they meant."""
    text = [f for f in found if f.suffix == ".txt" and not f.stem.lower().startswith(ABOUT_STEMS)]
    if text:
        raise SeqgenError(f"{folder} holds both music files ({len(music)}) and .txt files ({len(text)}): "
                          "point --corpus at one kind")


def _sources(folder: Path, root: Path, files: list[Path]) -> tuple[list[Source], bool]:
    """The files to parse, each with its split when ``folder`` has ``train/`` and ``valid/``,
    ``val/`` or ``test/`` subfolders, and whether it has them."""
    subdirs = {d.name.lower() for d in folder.iterdir() if d.is_dir()} if folder.is_dir() else set()
    given = "train" in subdirs and bool(subdirs & {"valid", "val", "test"})
    sources, ignored = [], 0
    for f in files:
        rel = f.relative_to(root)
        split = SPLIT_FOLDERS.get(rel.parts[0].lower()) if given and len(rel.parts) > 1 else None
        if given and split is None:
            ignored += 1
        else:
            sources.append(Source(str(f), rel.as_posix(), split))
    if ignored:  # said aloud: the user may well expect to train on them
        log.warning("%s: %d music file(s) outside the train/, valid/ (or val/) and test/ folders ignored: "
                    "they belong to no split", folder, ignored)
    return sources, given


@register_path_reader
def music_corpus_from_path(path: Path, encoding: str = "utf-8") -> MusicCorpus | None:
    """A corpus of the music files in ``path`` (a file or a folder searched recursively, in
    sorted order), or None when there are none, so the text adapter can take the path.
    (``encoding`` is for text; music files carry their own.)

    A folder with ``train/``, ``valid/`` (or ``val/``) and ``test/`` subfolders keeps that split.
    """
    path = Path(path).expanduser()
    if path.is_file():
        if not is_music_file(path):
            return None
        root, files = path.parent, [path]
    elif path.is_dir():
        root = path
        found = sorted((f for f in path.rglob("*") if f.is_file() and _visible(f, path)),
                       key=lambda f: f.relative_to(path).as_posix())
        files = [f for f in found if is_music_file(f)]
        if not files:
            return None
        _refuse_mixed(path, files, found)
    else:
        return None
    sources, given = _sources(path, root, files)
    # Hashed over the files that are read: editing an ignored one changes nothing cached.
    fingerprint = content_fingerprint(root, [Path(s.path) for s in sources], f"adapter-{ADAPTER_VERSION}")
    name = path.name if path.is_dir() else path.stem
    return MusicCorpus(name or "music", sources, fingerprint, str(path), given)


# -- music21's built-in collections --------------------------------------------------------------
def _builtin_fingerprint(extra: str = "") -> str:
    return f"music21-{metadata.version('music21')}-adapter{ADAPTER_VERSION}{extra}"


def bach_chorale_paths() -> list[tuple[str, Path]]:
    """``(bwv name, file)`` for every distinct chorale, in Riemenschneider order (371 numbers
    name 350 distinct chorales; repeats are dropped). Where music21 holds several files for a
    name (``bwv281.krn`` and ``bwv281.mxl``) the exact-name MusicXML file wins."""
    from music21 import corpus

    rank = {".mxl": 0, ".musicxml": 1, ".xml": 2, ".krn": 3}
    seen: dict[str, Path] = {}
    for name in corpus.chorales.Iterator(returnType="filename"):
        if name in seen:
            continue
        work = corpus.getWork(name)
        paths = [Path(p) for p in (work if isinstance(work, list) else [work])]
        base = name.split("/")[-1]
        exact = [p for p in paths if p.name[: -len(p.suffix)] == base]
        seen[name] = sorted(exact or paths, key=lambda p: (rank.get(p.suffix, 9), p.name))[0]
    return [(name.split("/")[-1], p) for name, p in seen.items()]


@register_corpus("bach", "350 Bach chorales from music21 (SATB, each voice its own track)")
def bach() -> MusicCorpus:
    """The Bach chorales that ship with music21, in Riemenschneider order."""
    def sources() -> list[Source]:
        return [Source(str(p), name) for name, p in bach_chorale_paths()]

    return MusicCorpus("bach", sources, _builtin_fingerprint("satb"),
                       "music21 corpus: Bach chorales (Riemenschneider order)", transform=satb_only)


def shifts(transpose: int) -> range:
    """The semitone shifts ``MusicCorpus.augment`` plays each train piece in (0 alone for none)."""
    return range(1 - transpose, transpose + 1) if transpose > 0 else range(1)


VOICES = ("Soprano", "Alto", "Tenor", "Bass")
CHOIR = 52  # General MIDI "Choir Aahs": one sound for every voice, whatever the source file said


def satb_only(piece: Piece) -> Piece:
    """Keep the four sung voices, named plainly, in S-A-T-B order.

    A few chorales add horns, trumpets, timpani or continuo (mostly doubling the voices); dropping
    them gives every piece the same four tracks, so a sample is a four-part chorale. A chorale
    without all four named voices is kept as it is.
    """
    voices = {}
    for track in piece.tracks:
        voice = next((v for v in VOICES if track.name.startswith(v)), None)
        if voice and voice not in voices:
            track.name, track.program = voice, CHOIR
            voices[voice] = track
    if len(voices) == len(VOICES):
        piece.tracks = [voices[v] for v in VOICES]
    return piece


#: music21's ABC folk collections, in the order ``folk-all`` reads them, with their tune counts.
FOLK_COLLECTIONS = {"oneills1850": 2000, "ryansMammoth": 1060, "essenFolksong": 8500}
#: What ``folk`` reads: the Irish and Scottish dance-tune books (one consistent style, and a first
#: parse of about a minute on two cores; Essen's 8,500 songs would add over two more minutes).
FOLK_DEFAULT = ("oneills1850", "ryansMammoth")


#: The folk books' grid: their ornaments and dotted rhythms hold 32nd notes, which 12 steps per
#: quarter round away (round-trip note F1 0.9875 at 12 steps, 0.9997 at 24).
FOLK_GRID_STEPS = 24


def _folk(name: str, collections: tuple[str, ...], text: str) -> MusicCorpus:
    def sources() -> list[Source]:
        from music21 import corpus

        root = Path(corpus.__file__).parent
        return [Source(str(f), f"{c}/{f.name}") for c in collections for f in sorted((root / c).glob("*.abc"))]

    extra = "-" + "+".join(collections)
    return MusicCorpus(name, sources, _builtin_fingerprint(extra), text, grid_steps=FOLK_GRID_STEPS)


@register_corpus("folk", "~3,000 Irish/Scottish folk tunes (O'Neill's 1850, Ryan's Mammoth; music21 ABC)")
def folk() -> MusicCorpus:
    """Monophonic dance tunes with their keys and meters: O'Neill's *Music of Ireland* (1850) and
    *Ryan's Mammoth Collection*, ABC files shipped with music21. The Essen songs are left out of
    this default to keep the first parse near a minute; ``folk-all`` has them."""
    return _folk("folk", FOLK_DEFAULT, "music21 corpus: O'Neill's 1850 + Ryan's Mammoth Collection (ABC)")


@register_corpus("folk-all", "~11,500 folk tunes: folk + the Essen folksong collection (slow first parse)")
def folk_all() -> MusicCorpus:
    """All three ABC folk collections in music21: O'Neill's, Ryan's and the Essen songs."""
    return _folk("folk-all", tuple(FOLK_COLLECTIONS), "music21 corpus: O'Neill's 1850 + Ryan's Mammoth + Essen (ABC)")
