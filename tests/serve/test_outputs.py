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


def test_counts_and_notes_are_those_of_the_written_midi_file() -> None:
    """A card's counts match the MIDI file, not the piece before the writer drops a duplicate note
    and an empty track: 2 notes and 1 track here, where the piece holds 3 notes in 2 tracks."""
    import pretty_midi

    melody = Track(name="Melody", notes=[Note(60, 0, 1), Note(60, 0, 1), Note(64, 1, 3)])
    piece = Piece(tracks=[melody, Track(name="Silent", program=33)], tempo_qpm=60)
    outputs = Outputs()
    try:
        token, (sample,) = outputs.save("run", [piece])
        midi = pretty_midi.PrettyMIDI(str(outputs.find(token, "sample-1.mid")[0]))
        assert (sample["notes"], sample["tracks"]) == (2, 1) == (sum(len(i.notes) for i in midi.instruments),
                                                                   len(midi.instruments))
        assert sample["seconds"] == round(midi.get_end_time(), 3) == 4.0
        assert sample["voices"] == [{"name": "Melody", "program": 0, "drum": False,
                                     "notes": [[60, 0.0, 1.0, 80], [64, 1.0, 4.0, 80]]}]
        assert sample["time_signature"] == "4/4" and sample["stems"] == []  # one voice: the mix is its stem
    finally:
        outputs.close()


def test_each_voice_gets_an_audio_stem_for_solo_and_mute() -> None:
    import wave

    piece = Piece(tracks=[Track(name="High", notes=[Note(72, 0, 2)]), Track(name="Empty"),
                          Track(name="Low", program=32, notes=[Note(40, 0, 1), Note(43, 1, 1)])])
    outputs = Outputs()
    try:
        token, (sample,) = outputs.save("run", [piece])
        assert [v["name"] for v in sample["voices"]] == ["High", "Low"]
        assert sample["stems"] == [f"/api/files/{token}/sample-1-voice-{i}.wav" for i in range(2)]
        for i in range(2):
            with wave.open(str(outputs.find(token, f"sample-1-voice-{i}.wav")[0])) as stem:
                assert stem.getnframes() > 0
    finally:
        outputs.close()


def test_uploaded_primers_are_kept_by_id_and_bounded() -> None:
    from seqgen.serve.errors import ApiError
    from seqgen.serve.outputs import KEEP_PRIMERS

    outputs = Outputs()
    try:
        ids = [outputs.add_primer("../../clip.MID", b"MThd")[0] for _ in range(KEEP_PRIMERS + 1)]
        path = outputs.primer(ids[-1])
        assert path.name == "primer.mid" and path.is_relative_to(outputs.root) and path.read_bytes() == b"MThd"
        for gone in (ids[0], "nope", "../primers"):
            try:
                outputs.primer(gone)
                raise AssertionError(f"{gone} was found")
            except ApiError as err:
                assert err.status == 400 and "upload the file again" in str(err)
    finally:
        outputs.close()
