"""Smoke test of the benchmark harness: it runs and its table has the rows it promises.

Timings are never asserted (they depend on the machine and its load); only that every number
the table reports is there and positive.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def first_number(cell: str) -> float:
    match = NUMBER.search(cell)
    assert match, f"no number in {cell!r}"
    return float(match.group().replace(",", ""))


def test_quick_throughput_and_sampling_rows() -> None:
    # The autouse fixture in conftest.py has already pointed SEQGEN_CACHE and SEQGEN_CORPORA at
    # test-owned folders; the child inherits them. One torch thread keeps the test fast when other
    # tests share the CPU (two threads on two busy cores stall on every small op).
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--threads", "1",
                           "--only", "throughput,sampling"],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [[c.strip() for c in line.strip().strip("|").split(" | ")]
            for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    header, body = rows[0], rows[1:]
    assert header == ["benchmark", "setting", "value", "reference/target", "ratio"]
    by_group: dict[str, list[list[str]]] = {}
    for row in body:
        assert len(row) == 5, row
        by_group.setdefault(row[0], []).append(row)
    assert set(by_group) == {"train throughput", "sampling", "peak memory"}, by_group.keys()

    throughput = by_group["train throughput"]
    if len(throughput) == 1:  # tiny-shakespeare is not on this machine: the row says why
        assert throughput[0][2].startswith("skipped"), throughput
    else:
        bare, seqgen, *fp32 = throughput
        assert "bare" in bare[1] and "seqgen" in seqgen[1]
        assert first_number(bare[2]) > 0 and first_number(seqgen[2]) > 0
        assert first_number(seqgen[4]) > 0  # the seqgen / bare ratio
        # Where seqgen trains in bf16, an fp32 bare loop shows what bf16 buys.
        assert ("bf16" in seqgen[1]) == bool(fp32)
        assert all("fp32" in r[1] and first_number(r[2]) > 0 for r in fp32)

    sampling = by_group["sampling"]
    compact, fp32, before, many, many_before, naive, *rest = sampling
    assert "compact int8" in compact[1] and "1 stream" in compact[1] and first_number(compact[4]) > 0
    assert "float32 step, 1 stream" in fp32[1] and "before" in before[1] and "1 stream" in before[1]
    assert "64 streams" in many[1] and "64 streams" in many_before[1] and "naive" in naive[1]
    *threads, gru, kl = rest
    assert all("1 torch thread" in r[1] for r in threads)  # only where torch uses several threads
    assert "gru" in gru[1] and "1 stream" in gru[1]  # the cpu preset's cell
    for row in sampling[:-1]:
        assert row[2].endswith("tok/s") and first_number(row[2]) > 0
    assert "KL" in kl[1] and kl[2].endswith(")") and "agrees" in kl[3]  # "1.2e-05 nats (max ...)"

    memory = by_group["peak memory"]
    assert {r[1].split()[0] for r in memory} == {"throughput", "sampling", "whole"}
    assert all(first_number(r[2]) > 0 for r in memory)
