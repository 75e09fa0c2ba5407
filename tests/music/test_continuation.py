"""Continuing a clip as a DAW user would: --bars after the primer, --only-new, key signature, --tempo."""

from __future__ import annotations

from pathlib import Path

import mido
import pretty_midi
import pytest
import torch
from click.testing import CliRunner

from seqgen.cli import main
from seqgen.config import ModelConfig
from seqgen.generate import SampleRequest, sample_music
from seqgen.model import LanguageModel
from seqgen.music.grid import GridTokenizer
from seqgen.music.midi_io import read_midi
from seqgen.music.score import Note, Piece, Track
from seqgen.music.writers import write_music

A_MAJOR = [57, 59, 61, 62, 64, 66, 68, 69]
BAR = 3.0  # quarters in a 3/4 bar


def primer_piece() -> Piece:
    """Eight bars of 3/4 in A major at 90 qpm: a lead (program 81) over a bass (program 33)."""
    lead = [Note(A_MAJOR[i % 8] + 12, i * 1.0, 1.0, 96) for i in range(24)]
    bass = [Note(A_MAJOR[(3 * i) % 8] - 12, i * BAR, BAR, 80) for i in range(8)]
    return Piece([Track("Lead", 81, False, lead), Track("Bass", 33, False, bass)], tempo_qpm=90.0,
                 time_signature=(3, 4), key="A major", title="clip")


@pytest.fixture
def setup(tmp_path: Path) -> tuple[LanguageModel, GridTokenizer, Path]:
    """An untrained model over a grid codec fitted on the clip, that never ends a piece early and
    starts a new bar every ten tokens or so."""
    torch.manual_seed(0)
    tokenizer = GridTokenizer.fit([primer_piece()])
    model = LanguageModel(ModelConfig(layers=1, hidden=16, embed=8, dropout=0, vocab_size=tokenizer.vocab_size))
    with torch.no_grad():
        model.head.bias[tokenizer.end_id] = -50.0
        model.head.bias[tokenizer.index["Bar"]] = 4.0
    path = write_music(primer_piece(), tmp_path / "clip.mid")
    return model.eval(), tokenizer, path


def notes(piece: Piece) -> list[Note]:
    return [n for t in piece.tracks for n in t.notes]


def test_bars_count_from_the_end_of_the_primer(setup: tuple[LanguageModel, GridTokenizer, Path]) -> None:
    model, tokenizer, path = setup
    piece = sample_music(model, tokenizer, SampleRequest(primer=str(path), bars=8, random_seed=1))[0]
    assert 15 * BAR < piece.end <= 16 * BAR + 1e-9  # ends in bar 16
    assert any(n.start >= 8 * BAR for n in notes(piece))  # new notes after the 8-bar primer
    assert (piece.tempo_qpm, piece.time_signature, piece.key) == (90.0, (3, 4), "A major")  # not the codec's 88
    assert {(t.name, t.program) for t in piece.tracks} <= {("Lead", 81), ("Bass", 33)}


def test_only_new_starts_at_bar_one_with_the_primers_meta(setup: tuple[LanguageModel, GridTokenizer, Path]) -> None:
    model, tokenizer, path = setup
    request = SampleRequest(primer=str(path), bars=8, random_seed=1, only_new=True)
    piece = sample_music(model, tokenizer, request)[0]
    assert notes(piece) and min(n.start for n in notes(piece)) >= 0
    assert 7 * BAR < piece.end <= 8 * BAR + 1e-9
    assert (piece.tempo_qpm, piece.time_signature, piece.key) == (90.0, (3, 4), "A major")
    assert {(t.name, t.program) for t in piece.tracks} <= {("Lead", 81), ("Bass", 33)}
    with pytest.raises(Exception, match="only-new"):
        SampleRequest(only_new=True)


def key_signatures(path: Path) -> list[str]:
    return [m.key for track in mido.MidiFile(path).tracks for m in track if m.type == "key_signature"]


def test_key_signature_and_tempo_are_written(tmp_path: Path,
                                             setup: tuple[LanguageModel, GridTokenizer, Path]) -> None:
    from music21 import converter, tempo

    model, tokenizer, _ = setup
    piece = sample_music(model, tokenizer, SampleRequest(seed="A4 C#5 E5", bars=4, random_seed=2, tempo=93.7))[0]
    assert piece.key  # estimated from the notes: the model writes none
    assert piece.tempo_qpm == 93.7

    piece.key = "A major"
    write_music(piece, tmp_path / "a.mid")
    write_music(piece, tmp_path / "a.musicxml")
    assert key_signatures(tmp_path / "a.mid") == ["A"]
    tempi = [mido.tempo2bpm(m.tempo) for t in mido.MidiFile(tmp_path / "a.mid").tracks for m in t
             if m.type == "set_tempo"]
    assert tempi == [pytest.approx(93.7, abs=0.01)]
    score = converter.parse(tmp_path / "a.musicxml")
    assert {k.sharps for k in score.recurse().getElementsByClass("KeySignature")} == {3}
    assert [m.number for m in score.recurse().getElementsByClass(tempo.MetronomeMark)] == [93.7]
    with pytest.raises(Exception, match="tempo"):
        SampleRequest(tempo=400)


def test_key_is_estimated_from_the_notes() -> None:
    from seqgen.generate import with_key

    arpeggio = [Note(p, i * 1.0, 1.0) for i, p in enumerate([57, 61, 64, 69, 62, 66, 64, 68, 69, 64, 61, 57])]
    assert with_key(Piece([Track("Piano", 0, False, arpeggio)])).key == "A major"
    assert with_key(Piece()).key is None  # nothing to analyse


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_cli_continues_a_bach_chorale(tmp_path: Path) -> None:
    from music21 import corpus

    folder = tmp_path / "chorales"
    folder.mkdir()
    for name in ("bach/bwv66.6", "bach/bwv4.8", "bach/bwv26.6"):
        corpus.parse(name).write("midi", fp=str(folder / f"{name.split('/')[1]}.mid"))
    primer_path = folder / "bwv66.6.mid"
    primer = read_midi(primer_path)
    code, out = run("train", "--corpus", folder, "--run-dir", "runs/c", "--hidden", "16", "--embed", "8",
                    "--batch-size", "8", "--seq-len", "64", "--max-time", "0", "--max-steps", "60",
                    "--eval-every", "60", "--lr", "0.01", "--val-frac", "0.3", "--test-frac", "0.0")
    assert code == 0, out
    bar = primer.time_signature[0] * 4 / primer.time_signature[1]
    primer_bars = -(-primer.end // bar)  # rounded up to a whole bar

    code, out = run("sample", "--checkpoint", "runs/c", "--primer", primer_path, "--bars", 4, "--random-seed", 3,
                    "--out", "more.mid")
    assert code == 0, out
    written = read_midi(Path("more.mid"))
    assert (primer_bars + 3) * bar < written.end <= (primer_bars + 4) * bar + 1e-9
    assert written.key == primer.key and written.time_signature == primer.time_signature
    assert {t.name for t in written.tracks} <= {t.name for t in primer.tracks}
    assert f"{sum(len(i.notes) for i in pretty_midi.PrettyMIDI('more.mid').instruments)} notes" in out

    code, out = run("sample", "--checkpoint", "runs/c", "--primer", primer_path, "--bars", 4, "--random-seed", 3,
                    "--only-new", "--tempo", 72.5, "--out", "new.mid")
    assert code == 0, out
    new = read_midi(Path("new.mid"))
    assert 3 * bar < new.end <= 4 * bar + 1e-9
    assert (new.key, new.time_signature, new.tempo_qpm) == (primer.key, primer.time_signature, 72.5)
    assert "bars" in out and f"key {primer.key}" in out and "72.5 qpm" in out

    code, out = run("sample", "--checkpoint", "runs/c", "--key", "G minor", "--time-signature", "4/4", "--loop",
                    "--bars", 2, "--num-samples", 2, "--tempo", 100, "--random-seed", 3, "--out", "loop.mid")
    assert code == 0, out
    for index in (1, 2):
        loop = read_midi(Path(f"loop-{index}.mid"))
        assert (loop.key, loop.time_signature, loop.tempo_qpm, loop.end) == ("G minor", (4, 4), 100.0, 8.0)
        assert {n.pitch % 12 for t in loop.tracks for n in t.notes} <= {7, 9, 10, 0, 2, 3, 4, 5, 6}
    code, out = run("sample", "--checkpoint", "runs/c", "--key", "Q major", "--out", "x.mid")
    assert code == 1 and "not a key" in out and "Traceback" not in out
