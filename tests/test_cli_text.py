"""End to end through the CLI: train, sample, eval, resume, and the errors users meet."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from seqgen.cli import main
from seqgen.run_dir import RunDir
from seqgen.text.char import CharTokenizer

TINY_MODEL = ["--hidden", "32", "--embed", "16", "--batch-size", "4", "--seq-len", "16", "--eval-every", "10",
              "--max-time", "0", "--seed", "3"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def train(corpus: Path, run_dir: str, *extra: str) -> tuple[int, str]:
    return run("train", "--corpus", corpus, "--run-dir", run_dir, *TINY_MODEL, *extra)


def test_train_sample_eval(small_text: Path) -> None:
    code, out = train(small_text, "runs/a", "--max-steps", "20")
    assert code == 0, out
    assert "parameters" in out and "done: step 20" in out
    folder = Path("runs/a")
    for name in ("best.pt", "last.pt", "config.json", "metrics.jsonl", "loss.png"):
        assert (folder / name).is_file(), name
    assert json.loads((folder / "config.json").read_text())["model"]["hidden"] == 32
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert any("val_loss" in r for r in rows) and any("train_loss" in r for r in rows)

    code, text = run("sample", "--checkpoint", folder, "--seed", "ROMEO:", "--length", "50", "--random-seed", "1")
    assert code == 0, text
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 50 + 1
    assert CharTokenizer.UNK not in text  # the unknown symbol is never generated
    again = run("sample", "--checkpoint", folder, "--seed", "ROMEO:", "--length", "50", "--random-seed", "1")[1]
    assert again == text  # reproducible with --random-seed

    code, out = run("eval", "--checkpoint", folder / "best.pt", "--json")
    assert code == 0, out
    metrics = json.loads(out)
    assert metrics["split"] == "val" and metrics["tokens"] > 0
    assert metrics["nats_per_token"] == pytest.approx(metrics["nll"] / metrics["tokens"])
    assert metrics["bits_per_char"] == pytest.approx(metrics["nats_per_token"] / 0.6931471805599453)
    best = torch.load(folder / "best.pt", weights_only=True)["best_val"]
    assert metrics["nats_per_token"] == pytest.approx(best, rel=1e-5)  # eval agrees with training's own


def test_sample_options(small_text: Path) -> None:
    assert train(small_text, "runs/b", "--max-steps", "10")[0] == 0
    code, out = run("sample", "--checkpoint", "runs/b", "--seed", "R", "--length", "30", "--num-samples", "3",
                    "--temperature", "0")
    assert code == 0, out
    samples = re.split(r"--- sample \d ---\n", out)[1:]
    assert len(samples) == 3 and len({s[:31] for s in samples}) == 1  # greedy: all samples identical
    code, out = run("sample", "--checkpoint", "runs/b", "--seed", "R", "--length", "200", "--stop", "\n",
                    "--temperature", "0.5", "--top-k", "5", "--top-p", "0.9", "--random-seed", "2",
                    "--out", "s.txt")
    assert code == 0, out
    text = Path("s.txt").read_text()
    assert text.startswith("R") and (text.endswith("\n\n") or len(text) == 202)
    assert "\n" not in text[1:-2]


def test_default_checkpoint_is_newest_run(small_text: Path) -> None:
    assert train(small_text, "checkpoints/old", "--max-steps", "5")[0] == 0
    assert train(small_text, "checkpoints/new", "--max-steps", "5", "--hidden", "24")[0] == 0
    greedy = ("--seed", "J", "--length", "30", "--temperature", "0")
    old, new = (run("sample", "--checkpoint", f"checkpoints/{name}", *greedy)[1] for name in ("old", "new"))
    assert old != new and old.startswith("J") and new.startswith("J")
    os.utime("checkpoints/old/best.pt", (1, 1))  # older by a wide margin, whatever the clock's resolution
    assert run("sample", *greedy) == (0, new)
    os.utime("checkpoints/new/best.pt", (0, 0))  # now the other run is the newest
    assert run("sample", *greedy) == (0, old)


def test_a_preset_with_a_step_budget(small_text: Path) -> None:
    """The shipped preset's settings apply; a step budget given on top turns its time budget off."""
    code, out = run("train", "--corpus", small_text, "--run-dir", "runs/p", "--preset", "cpu", "--hidden", "32",
                    "--embed", "16", "--max-steps", "12", "--eval-every", "6")
    assert code == 0 and "done: step 12" in out, out
    config = json.loads(Path("runs/p/config.json").read_text())
    assert config["model"]["cell"] == "gru" and config["train"]["lr"] == 7e-3  # from the preset
    assert config["model"]["hidden"] == 32 and config["train"]["max_time"] == 0  # from the flags


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_saves_and_resume_is_exact(small_text: Path, signum: int) -> None:
    """A run stopped by a signal and resumed ends with the same weights as an uninterrupted one."""
    steps = ["--max-steps", "300", "--dropout", "0.2", "--eval-every", "100"]
    assert train(small_text, "runs/full", *steps)[0] == 0
    command = [sys.executable, "-m", "seqgen", "train", "--corpus", str(small_text), "--run-dir", "runs/part",
               *TINY_MODEL, *steps]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = Path("runs/part/metrics.jsonl")
    deadline = time.time() + 60
    while not metrics.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and "interrupted at step" in err and "--resume" in err
    stopped = torch.load("runs/part/last.pt", weights_only=True)["step"]
    assert 0 < stopped < 300

    code, out = run("train", "--resume", "runs/part")
    assert code == 0, out
    full = torch.load("runs/full/last.pt", weights_only=True)
    part = torch.load("runs/part/last.pt", weights_only=True)
    assert part["step"] == 300
    for name, tensor in full["model"].items():
        torch.testing.assert_close(part["model"][name], tensor, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("args, message", [
    (["train", "--corpus", "nosuchcorpus"], "no corpus named 'nosuchcorpus'"),
    (["train", "--hidden", "0"], "hidden must be at least 1"),
    (["train", "--batch-size", "-1"], "batch size must be at least 1"),
    (["train", "--tokenizer", "wordpiece"], "unknown tokenizer 'wordpiece'"),
    (["train", "--tie-weights", "--hidden", "32"], "needs embed == hidden"),
    (["train", "--config", "missing.toml"], "config file not found"),
    (["sample", "--checkpoint", "nope.pt", "--seed", "a"], "checkpoint not found"),
    (["sample", "--seed", "a"], "no checkpoint found"),
    (["sample", "--temperature", "nan", "--seed", "a"], "temperature must be"),
    (["sample", "--top-p", "1.5", "--seed", "a"], "top-p must be in"),
    (["sample", "--top-k", "-2", "--seed", "a"], "top-k must be"),
])
def test_bad_input_is_one_line_error(args: list[str], message: str) -> None:
    code, out = run(*args)
    assert code == 1
    assert out.startswith("Error: ") and message in out and "Traceback" not in out


def test_seed_outside_vocabulary_and_bad_length(small_text: Path) -> None:
    assert train(small_text, "runs/c", "--max-steps", "3")[0] == 0
    code, out = run("sample", "--checkpoint", "runs/c", "--seed", "Zebra§")
    assert code == 1 and "'Z', 'a', '§'" in out
    code, out = run("sample", "--checkpoint", "runs/c", "--seed", "R", "--length", "0")
    assert code == 1 and "length must be at least 1" in out
    code, out = run("sample", "--checkpoint", "runs/c", "--seed", "R", "--out", "x.mid")
    assert code == 1 and "generates text" in out


def test_config_file_and_flag_precedence(small_text: Path) -> None:
    Path("c.toml").write_text(f'[data]\ncorpus = "{small_text}"\n[model]\nhidden = 24\nembed = 8\n'
                              '[train]\nmax_steps = 4\nmax_time = 0\nbatch_size = 2\nseq_len = 8\n')
    code, out = run("train", "--config", "c.toml", "--embed", "12", "--run-dir", "runs/d")
    assert code == 0, out
    config = json.loads(Path("runs/d/config.json").read_text())
    assert config["model"]["hidden"] == 24 and config["model"]["embed"] == 12  # file, then flags


def test_corpus_too_small_for_a_batch(tmp_path: Path) -> None:
    (tmp_path / "wee.txt").write_text("just a few words of text\n" * 3)
    code, out = run("train", "--corpus", tmp_path / "wee.txt", "--max-steps", "1")
    assert code == 1 and "too few for one batch" in out


def test_two_runs_in_one_directory_are_refused(small_text: Path) -> None:
    with RunDir(Path("runs/e")):  # this process holds the lock
        code, out = train(small_text, "runs/e", "--max-steps", "2")
    assert code == 1 and f"another training (pid {os.getpid()}) is writing" in out


def test_corpus_commands() -> None:
    code, out = run("corpus", "list")
    assert code == 0 and "shakespeare" in out and "tinyshakespeare" in out
    code, out = run("corpus", "info", "shakespeare")
    assert code == 0 and "train size" in out and "characters" in out


def test_changed_corpus_rebuilds_cache_and_refuses_stale_checkpoints(small_text: Path) -> None:
    assert train(small_text, "runs/f", "--max-steps", "3")[0] == 0
    # New characters at the start land in the train split, so the fitted vocabulary changes.
    small_text.write_text("QUEEN:\nZany new letters: xylophone jazz!\n\n" + small_text.read_text())
    code, out = run("eval", "--checkpoint", "runs/f")
    assert code == 1 and "has changed since this checkpoint was trained" in out
    code, out = run("train", "--resume", "runs/f", "--max-steps", "6")
    assert code == 1 and "has changed" in out
    assert train(small_text, "runs/g", "--max-steps", "3")[0] == 0  # a new run builds fresh arrays
    assert len(list(Path("cache").glob("play/char-*"))) == 2


@pytest.mark.parametrize("args", [["train", "--cell", "xyz"], ["train", "--init", "zeros"],
                                  ["sample", "--length", "abc"], ["sampel"]])
def test_bad_flags_are_one_line_errors_too(args: list[str]) -> None:
    code, out = run(*args)
    assert code == 2
    assert out.startswith("Error: ") and out.count("\n") == 1 and "Traceback" not in out
