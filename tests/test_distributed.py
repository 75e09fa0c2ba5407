"""Data-parallel training on torch.distributed (gloo, 2 CPU processes) matches one process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

# fp32: the test checks DDP's arithmetic, which bf16 rounding (the auto precision on CPUs with
# AVX-512 BF16) would blur past float tolerance.
ARGS = ["--hidden", "32", "--embed", "16", "--batch-size", "8", "--seq-len", "16", "--max-steps", "12",
        "--max-time", "0", "--eval-every", "6", "--dropout", "0", "--device", "cpu", "--seed", "5",
        "--precision", "fp32"]


def seqgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqgen", *args], capture_output=True, text=True, timeout=300)


def test_two_processes_match_one_with_the_same_global_batch(small_text: Path) -> None:
    single = seqgen("train", "--corpus", str(small_text), "--run-dir", "one", *ARGS)
    assert single.returncode == 0, single.stderr
    double = seqgen("train", "--nproc", "2", "--corpus", str(small_text), "--run-dir", "two", *ARGS)
    assert double.returncode == 0, double.stderr
    one = torch.load("one/last.pt", weights_only=True)
    two = torch.load("two/last.pt", weights_only=True)
    assert two["step"] == 12 and two["state"][0].shape == one["state"][0].shape  # full state gathered
    for name, tensor in one["model"].items():
        torch.testing.assert_close(two["model"][name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    torch.testing.assert_close(two["best_val"], one["best_val"], rtol=1e-4, atol=1e-5)

    resumed = seqgen("train", "--nproc", "2", "--resume", "two", "--max-steps", "14")
    assert resumed.returncode == 0, resumed.stderr
    assert torch.load("two/last.pt", weights_only=True)["step"] == 14
