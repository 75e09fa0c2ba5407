"""Where and in what precision the model runs (CUDA, Apple's MPS or the CPU; bf16 or fp32), and
on how many CPU threads.

Shared by training, evaluation, sampling and the benchmarks, so every path makes the same choice.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from seqgen.errors import SeqgenError


def pick_device(name: str) -> torch.device:
    """``auto`` prefers CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SeqgenError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SeqgenError("--device cuda was asked for, but no CUDA GPU is available")
    return device


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether to autocast to bf16: ``auto`` asks for hardware that computes it natively (CUDA
    GPUs with bf16, CPUs with AVX-512 BF16 or AMX), where it is faster; emulated bf16 is slower."""
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a build without oneDNN
            return False
    return False


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which taskset and container cpusets
    narrow), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


#: The kernel's load figures; its fourth field is "runnable/all" tasks right now.
LOADAVG = "/proc/loadavg"
#: Reads of the run queue per estimate and the pause between them: one read catches a passing
#: shell command as often as a real competitor.
LOAD_READS, LOAD_PAUSE = 5, 0.002


def _own_running() -> int:
    """This process's threads that are running or runnable now (state R in /proc/self/task), so
    OpenMP workers still spinning after a step (torch's default wait policy, which seqgen keeps:
    passive waiting cost a lone run 27% of its steps) are not taken for other work."""
    running = 0
    for task in os.scandir("/proc/self/task"):
        try:
            with open(f"{task.path}/stat", encoding="ascii") as f:
                running += f.read().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):  # a thread that ended meanwhile
            pass
    return running


def others_load(own_threads: int = 0) -> float:
    """How many cores other work keeps busy right now.

    On Linux: the median of a few reads of the runnable-task count in /proc/loadavg, less this
    process's own runnable threads (the reading thread among them). Elsewhere the one-minute load
    average, less ``own_threads`` (it counts this process's work too)."""
    try:
        reads = []
        for _ in range(LOAD_READS):
            with open(LOADAVG, encoding="ascii") as f:
                total = int(f.read().split()[3].split("/")[0])
            reads.append(total - max(1, _own_running()))
            time.sleep(LOAD_PAUSE)
        return max(0.0, statistics.median(reads))
    except (OSError, IndexError, ValueError):
        return max(0.0, os.getloadavg()[0] - own_threads) if hasattr(os, "getloadavg") else 0.0


def fair_threads(own_threads: int = 0) -> int:
    """Torch threads for CPU work: the usable cores that other work leaves free, at least one.

    More threads than free cores is the worst choice on a busy machine: every parallel op waits
    for its slowest thread, and a descheduled one stalls them all (two 2-thread trainings on 2
    cores ran about 90x slower each, issue 14; benchmarks/contention.py measures it)."""
    cores = usable_cores()
    return max(1, min(cores, round(cores - others_load(own_threads))))


class ThreadShare:
    """Keeps torch's CPU thread count at this process's fair share through a long run.

    ``fixed`` threads (a user's ``--threads``) are set once and never changed; 0 means
    ``fair_threads``, re-read every ``every`` seconds of work, since other work comes and goes.
    ``close`` puts back the count found at the start: it is process-wide, and a notebook that
    trains has more to do afterwards."""

    def __init__(self, fixed: int = 0, every: float = 10.0) -> None:
        self.fixed, self.every = fixed, every
        self.before = torch.get_num_threads()
        self.threads = fixed or fair_threads()
        self.next_check = every
        torch.set_num_threads(self.threads)

    def check(self, elapsed: float) -> str | None:
        """Re-read the fair share once ``elapsed`` seconds of work pass the next check; returns a
        message when the count changed (so a starved run says so), else None."""
        if self.fixed or elapsed < self.next_check:
            return None
        self.next_check = elapsed + self.every
        threads = fair_threads(self.threads)
        if threads == self.threads:
            return None
        before, self.threads = self.threads, threads
        torch.set_num_threads(threads)
        why = "other work is using the CPU" if threads < before else "cores came free"
        return f"{why}: {threads} torch thread{'s' * (threads > 1)} instead of {before}"

    def close(self) -> None:
        torch.set_num_threads(self.before)
