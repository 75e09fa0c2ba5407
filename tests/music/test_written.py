"""The CLI's summary line counts what the MIDI writer wrote, as a DAW will show it."""

from __future__ import annotations

from seqgen.music.score import Note, Piece, Track
from seqgen.music.written import written_facts, written_summary


def test_summary_counts_after_the_writer_drops_duplicates_and_empty_tracks() -> None:
    piece = Piece(tracks=[Track(name="A", notes=[Note(60, 0, 1), Note(60, 0, 1), Note(62, 4, 1)]), Track(name="B")],
                  tempo_qpm=90, time_signature=(3, 4), key="D major")
    assert written_summary(piece) == "1 tracks, 2 notes, 2 bars, key D major, 90 qpm"
    facts = written_facts(piece)
    assert facts["seconds"] == round(5 * 60 / 90, 3) and facts["time_signature"] == "3/4"
