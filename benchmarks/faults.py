"""Fault run: ``python -m benchmarks.faults [--trials 30]`` kills training at random and resumes it.

Each trial starts ``seqgen train`` on a small generated corpus with a checkpoint every few steps,
sends ``kill -9`` after a random delay, checks what the kill left behind, then runs
``seqgen train --resume`` to the end and compares the final weights with an uninterrupted run of
the same settings (a step budget, so resuming must be bit-exact). Prints one line per outcome.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

STEPS = 300
SETTINGS = ["--hidden", "32", "--embed", "16", "--batch-size", "8", "--seq-len", "16", "--max-steps", str(STEPS),
            "--max-time", "0", "--eval-every", "5", "--dropout", "0.2"]


def seqgen(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqgen", *args], capture_output=True, text=True, timeout=timeout)


def same_weights(a: Path, b: Path) -> bool:
    import torch

    wa, wb = (torch.load(p, weights_only=True)["model"] for p in (a, b))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def trial(corpus: Path, run: Path, reference: Path, rng: random.Random) -> str:
    """One kill -9 and resume; returns the outcome's name."""
    proc = subprocess.Popen([sys.executable, "-m", "seqgen", "train", "--corpus", str(corpus), "--run-dir", str(run),
                             *SETTINGS], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(rng.uniform(1.0, 6.0))  # python and torch start in ~2 s; training takes a few more
    if proc.poll() is not None:
        return "finished before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if not (run / "last.pt").exists():
        return "killed before the first checkpoint (nothing to resume)"
    resumed = seqgen("train", "--resume", str(run))
    if resumed.returncode != 0:
        return f"resume failed: {resumed.stderr.strip().splitlines()[-1][:120]}"
    if "Traceback" in resumed.stderr:
        return "resume printed a traceback"
    leftovers = [p.name for p in run.iterdir() if ".tmp-" in p.name]
    if leftovers:
        return f"temp files left: {leftovers}"
    steps = [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"train_loss"' in line]
    if len(steps) != len(set(steps)) or len(steps) != STEPS // 10:
        return f"metrics rows: {len(steps)} train rows for {STEPS // 10} logging steps"
    return "resumed, bit-identical to the uninterrupted run" if same_weights(run / "last.pt", reference) \
        else "resumed, weights DIFFER from the uninterrupted run"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="seqgen-faults-") as tmp:
        root = Path(tmp)
        os.environ["SEQGEN_CACHE"] = str(root / "cache")
        corpus = root / "play.txt"
        corpus.write_text("".join(f"SPEAKER {i % 7}:\nA line of verse, number {i % 31}, to learn.\n\n"
                                  for i in range(3000)))
        full = seqgen("train", "--corpus", str(corpus), "--run-dir", str(root / "full"), *SETTINGS)
        if full.returncode != 0:
            print(full.stderr, file=sys.stderr)
            return 1
        outcomes = Counter()
        for i in range(args.trials):
            outcome = trial(corpus, root / f"t{i}", root / "full" / "last.pt", rng)
            print(f"trial {i + 1}: {outcome}", file=sys.stderr)
            outcomes[outcome] += 1
    print(f"{args.trials} kill -9 trials, {STEPS} steps, checkpoint every 5 steps:")
    for outcome, count in outcomes.most_common():
        print(f"{count:4d}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
