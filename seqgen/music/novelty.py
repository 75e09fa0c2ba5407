"""Music novelty: the longest run of melodic intervals a piece copies from the training split.

Each pitched track is read as a melody (its highest note at each onset, the line a listener
follows) and turned into the intervals between successive notes, so a copy in another key still
matches: a chorale line transposed from G to A is the same run of intervals. All training tracks
are joined into one sequence, with a separator no interval can equal between them so no match
spans two tracks, and searched with ``seqgen.novelty.SuffixIndex``. Lengths are in notes: a run of
k copied intervals is k + 1 notes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pretty_midi

from seqgen.music.score import Piece, Track
from seqgen.novelty import Copy, SuffixIndex, passages

#: Between two tracks in the joined training sequence: larger than any interval (|i| <= 127).
SEPARATOR = 1000


def melody(track: Track) -> list[int]:
    """The track's pitches in time order, the highest one where several notes start together."""
    top: dict[float, int] = {}
    for note in track.notes:
        top[note.start] = max(note.pitch, top.get(note.start, -1))
    return [top[start] for start in sorted(top)]


def intervals(pitches: Sequence[int]) -> np.ndarray:
    return np.diff(np.asarray(pitches, dtype=np.int64))


class MusicNovelty:
    """The training split's pitched tracks as one interval sequence, with where each came from."""

    unit = "notes"

    def __init__(self, pieces: Sequence[Piece]) -> None:
        parts: list[np.ndarray] = []
        self.origins: list[tuple[str, str]] = []  # (piece title, track name) of each track
        starts = []
        position = 0
        for number, piece in enumerate(pieces, 1):
            for track in piece.tracks:
                if track.is_drum:
                    continue
                steps = intervals(melody(track))
                starts.append(position)
                self.origins.append((piece.title or f"piece {number}", track.name or "track"))
                parts += [steps, np.array([SEPARATOR])]
                position += len(steps) + 1
        self.starts = np.asarray(starts, dtype=np.int64)
        data = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        self.index = SuffixIndex(data)

    def _found(self, piece: Piece) -> list[tuple[Track, list[int], np.ndarray, np.ndarray]]:
        """Per pitched track of ``piece``: its melody, and per interval the longest copied run
        from there and where in the training sequence it is."""
        found = []
        for track in piece.tracks:
            if not track.is_drum:
                line = melody(track)
                found.append((track, line, *self.index.matching(intervals(line))))
        return found

    def longest(self, piece: Piece) -> int:
        """Notes in the longest run of ``piece``'s melodic intervals copied from the training
        split, in any pitched track and any key (0 when not even one interval matches)."""
        runs = [int(lengths.max(initial=0)) for _, _, lengths, _ in self._found(piece)]
        return max(runs, default=0) + 1 if max(runs, default=0) else 0

    def copies(self, piece: Piece, top: int = 5) -> list[Copy]:
        """The longest ``top`` copied runs over all pitched tracks, longest first: the notes of the
        piece (``start`` is the note's index in its track's melody) and the training track they
        follow."""
        found = []
        for track, line, lengths, where in self._found(piece):
            for i in passages(lengths, top):
                run = int(lengths[i])
                owner = int(np.searchsorted(self.starts, where[i], side="right")) - 1
                title, name = self.origins[owner]
                note = int(where[i] - self.starts[owner]) + 1
                shown = " ".join(pretty_midi.note_number_to_name(p) for p in line[i:i + run + 1])
                found.append(Copy(run + 1, i, f"{title}, {name}, from note {note}", shown, track.name or "track"))
        return sorted(found, key=lambda c: -c.length)[:top]
