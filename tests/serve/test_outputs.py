"""Limits on what music generations write: seconds of audio per sample, bytes of kept files."""

from __future__ import annotations

import secrets

from seqgen.music.score import Note, Piece, Track
from seqgen.serve.outputs import MAX_AUDIO_SECONDS, Outputs


def test_a_piece_too_long_to_render_gets_no_audio_but_its_other_files() -> None:
    quarters = (MAX_AUDIO_SECONDS + 10) * 2  # at 120 quarters a minute
    long = Piece(tracks=[Track(notes=[Note(60, 0, 1), Note(64, quarters - 1, 1)])], tempo_qpm=120)
    short = Piece(tracks=[Track(notes=[Note(60, 0, 1), Note(64, 1, 1)])], tempo_qpm=120)
    outputs = Outputs()
    try:
        _, (too_long, fine) = outputs.save("run", [long, short])
        assert too_long["seconds"] > MAX_AUDIO_SECONDS
        assert "wav" not in too_long["files"] and f"over {MAX_AUDIO_SECONDS} s" in too_long["errors"]["wav"]
        assert {"midi", "png"} <= set(too_long["files"])
        assert "wav" in fine["files"] and fine["errors"] == {}
    finally:
        outputs.close()


def fake_generation(outputs: Outputs, size: int) -> str:
    """A generation of one ``size``-byte file, offered as a music generation's would be."""
    token = secrets.token_hex(8)
    (outputs.root / token).mkdir()
    path = outputs.root / token / "sample-1.mid"
    path.write_bytes(b"x" * size)
    outputs.add(token, {path.name: (path, "x.mid")})
    return token


def test_kept_outputs_are_bounded_in_bytes_as_well_as_in_number() -> None:
    outputs = Outputs(keep=3, max_bytes=2500)
    try:
        first, second, third = (fake_generation(outputs, 1000) for _ in range(3))
        assert list(outputs.files) == [second, third]  # 3000 bytes: the oldest went
        assert not (outputs.root / first).exists()
        big = fake_generation(outputs, 5000)
        assert list(outputs.files) == [big]  # the newest stays, even over the limit alone
        small = [fake_generation(outputs, 10) for _ in range(4)]
        assert list(outputs.files) == small[1:]  # and at most `keep` generations
        assert sorted(p.name for p in outputs.root.iterdir()) == sorted(small[1:])
    finally:
        outputs.close()
