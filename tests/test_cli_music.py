"""Music end to end through the CLI: a folder of MIDI files in, MIDI/PNG out, eval per note."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pretty_midi
import pytest
from click.testing import CliRunner

from seqgen.cli import main
from seqgen.novelty import file_copies

TINY = ["--hidden", "32", "--embed", "16", "--batch-size", "4", "--seq-len", "32", "--max-time", "0",
        "--max-steps", "12", "--eval-every", "6", "--val-frac", "0.2", "--test-frac", "0.2"]


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_train_sample_eval_music(midi_folder: Path) -> None:
    code, out = run("train", "--corpus", midi_folder, "--run-dir", "runs/m", *TINY)
    assert code == 0, out
    code, out = run("sample", "--checkpoint", "runs/m", "--seed", "C4 E4 G4", "--bars", "4", "--random-seed", "1",
                    "--out", "a.mid", "--out", "a.png")
    assert code == 0, out
    pm = pretty_midi.PrettyMIDI("a.mid")
    assert {i.name for i in pm.instruments} <= {"Flute", "Bass"}
    first = sorted(n.pitch for i in pm.instruments for n in i.notes if n.start == 0)
    assert {60, 64, 67} <= set(first)  # the seed chord opens the piece
    assert all(n.end > n.start for i in pm.instruments for n in i.notes)
    meter = pm.time_signature_changes[0]
    quarters = pm.time_to_tick(pm.get_end_time()) / pm.resolution
    assert quarters <= 4 * meter.numerator * 4 / meter.denominator + 1e-6  # cut at 4 bars
    assert mido.MidiFile("a.mid").type == 1
    assert Path("a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [line] = [line for line in out.splitlines() if line.startswith("wrote a.mid, a.png (")]  # one line a sample
    copies = file_copies("a.mid", "runs/m")[1]  # read back: the run copied in the file as written
    assert (f"longest run copied from training {copies[0].length} notes ({copies[0].source})" in line
            if copies else "nothing copied from training" in line)

    code, out = run("sample", "--checkpoint", "runs/m", "--num-samples", "2", "--length", "60", "--out", "b.mid")
    assert code == 0, out
    assert Path("b-1.mid").is_file() and Path("b-2.mid").is_file()
    assert [line.split(" (")[0] for line in out.splitlines()] == ["wrote b-1.mid", "wrote b-2.mid"]

    code, out = run("eval", "--checkpoint", "runs/m", "--json", "--samples", "2", "--bars", "4")
    assert code == 0, out
    metrics = json.loads(out)
    for key in ("notes", "quarters", "beats", "seconds", "nats_per_note", "nats_per_quarter", "nats_per_beat",
                "nats_per_second"):
        assert metrics[key] > 0, key
    assert metrics["nats_per_note"] == pytest.approx(metrics["nll"] / metrics["notes"], rel=0.01)
    stats = metrics["sample_stats"]
    assert 0 <= stats["samples"]["pitch_class_distance"] <= 1
    for key in ("in_key_rate", "parallels_per_100_beats", "crossings_per_100_beats", "out_of_range_rate",
                "all_voices_rate", "bars", "reached_bars_rate"):
        assert key in stats["samples"] and key in stats["reference"], key
    assert stats["reference"]["bars"] <= 4  # the split's pieces are cut to the 4 bars asked

    code, out = run("eval", "--checkpoint", "runs/m", "--samples", "1", "--bars", "2")
    assert code == 0, out
    assert "nats_per_quarter" in out and "parallels_per_100_beats" in out and "polyphony Flute" in out


def test_music_input_errors(midi_folder: Path) -> None:
    assert run("train", "--corpus", midi_folder, "--run-dir", "runs/n", *TINY)[0] == 0
    code, out = run("sample", "--checkpoint", "runs/n", "--seed", "C4 H9", "--out", "x.mid")
    assert code == 1 and "H9" in out and out.startswith("Error:")
    code, out = run("sample", "--checkpoint", "runs/n", "--primer", "missing.mid", "--out", "x.mid")
    assert code == 1 and "primer file" in out
    code, out = run("sample", "--checkpoint", "runs/n", "--out", "x.doc")
    assert code == 1 and "supported suffixes" in out
    code, out = run("train", "--corpus", midi_folder, "--tokenizer", "char", "--max-steps", "1")
    assert code == 1 and "is for text" in out
