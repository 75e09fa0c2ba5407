"""``seqgen corpus export`` writes what the model sees (read back with pretty_midi), and
``seqgen corpus info`` reports bars, hours, skipped files and the codec's round-trip F1."""

from __future__ import annotations

from pathlib import Path

import pretty_midi
from click.testing import CliRunner

from seqgen.cli import main
from seqgen.music.score import Note, Piece, Track
from seqgen.music.writers import write_music


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def thirty_seconds(folder: Path, count: int) -> Path:
    """Pieces of a bar of 32nd notes then a bar of quarters, at 92 qpm (a metronome mark, kept exactly) in 4/4."""
    folder.mkdir(parents=True)
    for i in range(count):
        notes = [Note(60 + (i + k) % 12, k * 0.125, 0.125, 64) for k in range(32)]
        notes += [Note(67, 4.0 + k, 1.0, 64) for k in range(4)]
        write_music(Piece([Track("Flute", 73, False, notes)], tempo_qpm=92), folder / f"run{i}.mid")
    return folder


def onsets(path: Path) -> list[float]:
    """Note onsets in quarters (pretty_midi reads seconds; the files are at 92 qpm)."""
    pm = pretty_midi.PrettyMIDI(str(path))
    return sorted(round(n.start * 92 / 60, 4) for i in pm.instruments for n in i.notes)


def test_export_writes_pieces_as_the_model_sees_them(tmp_path: Path) -> None:
    folder = thirty_seconds(tmp_path / "fast", 5)
    code, out = run("corpus", "export", folder, "--out", "heard", "--val-frac", "0.2", "--test-frac", "0.2")
    assert code == 0, out
    files = sorted(Path("heard").rglob("*.mid"))
    assert [f.parent.name for f in files].count("train") == 3 and len(files) == 5
    assert {f.parent.name for f in files} == {"train", "val", "test"}
    coarse = onsets(files[0])
    assert len(coarse) == 36 and coarse[:32] != [k * 0.125 for k in range(32)]  # 12 steps: 32nd notes moved
    assert all(abs(round(q * 12) - q * 12) < 1e-3 for q in coarse)  # onto the grid
    pm = pretty_midi.PrettyMIDI(str(files[0]))
    assert round(pm.get_tempo_changes()[1][0], 2) == 92 and pm.instruments[0].name == "Flute"

    code, out = run("corpus", "export", folder, "--out", "fine", "--grid-steps", "24", "--limit", "2")
    assert code == 0, out
    files = sorted(Path("fine").rglob("*.mid"))
    assert len(files) == 2 and "wrote 2 MIDI file(s)" in out
    assert onsets(files[0])[:32] == [k * 0.125 for k in range(32)]  # 24 steps: every 32nd note kept


def test_info_reports_bars_hours_skips_and_round_trip(tmp_path: Path) -> None:
    folder = thirty_seconds(tmp_path / "fast", 4)
    (folder / "empty.mid").write_bytes(b"")
    code, out = run("corpus", "info", folder)
    assert code == 0, out
    facts = dict(line.strip().split("  ", 1) for line in out.splitlines() if "  " in line.strip())
    assert facts["pieces"].strip() == "4" and facts["bars"].strip() == "8"
    assert facts["seconds"].strip() == "20.9000" and facts["hours"].strip() == "0.0100"  # 4 x 8 quarters at 92 qpm
    assert "skipped empty.mid: empty file (0 bytes)" in out
    f1 = float(facts["round-trip F1"].split()[0])
    assert 0.1 < f1 < 1  # the 32nd notes are lost on the default 12-step grid
    code, out = run("corpus", "info", folder, "--grid-steps", "24")
    assert code == 0 and "round-trip F1  1.00000" in out


def test_export_refuses_text_and_bad_settings(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello there\n" * 50)
    code, out = run("corpus", "export", tmp_path / "a.txt", "--out", "x")
    assert code == 1 and "text corpus" in out
    code, out = run("corpus", "export", "bach", "--out", "x", "--grid-steps", "7")
    assert code == 1 and "or a multiple of 4" in out
