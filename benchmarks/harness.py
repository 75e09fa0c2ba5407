"""Runs the row groups (each in its own subprocess by default) and prints the Markdown table.

A subprocess per group is the clean way to get a per-group peak RSS (``ru_maxrss`` only ever
grows within a process) and keeps one group's allocator and thread-pool state from colouring the
next group's timings. ``--in-process`` runs everything here instead, for debugging.
"""

from __future__ import annotations

import importlib
import json
import resource
import shlex
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from benchmarks.common import Options, Row, Skip, child_env
from benchmarks.machine import load_average

#: Group name -> module with ``rows(options) -> list[Row]``, in table order.
GROUPS = {
    "machine": "benchmarks.machine",
    "throughput": "benchmarks.throughput",
    "sampling": "benchmarks.sampling",
    "gpu": "benchmarks.gpu_sampling",
    "cli": "benchmarks.cli_sampling",
    "contention": "benchmarks.contention",
    "budget": "benchmarks.budget",
    "heldout": "benchmarks.heldout",
    "corpus": "benchmarks.corpus_prep",
}
TITLES = {"machine": "machine", "throughput": "train throughput", "sampling": "sampling", "gpu": "gpu sampling",
          "cli": "cli sampling",
          "contention": "busy machine", "budget": "val loss at budget", "heldout": "held-out loss",
          "corpus": "corpus prep"}
COLUMNS = ("benchmark", "setting", "value", "reference/target", "ratio")


def peak_mb() -> float:
    """Peak resident memory of this process and of its largest finished child, in MB (Linux: KB units)."""
    kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return kb / 1024


def run_group(name: str, options: Options) -> list[Row]:
    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    try:
        return importlib.import_module(GROUPS[name]).rows(options)
    except Skip as reason:
        return [Row(TITLES[name], "", str(reason))]


def child_main(name: str, options: Options, out: Path) -> None:
    """Body of ``python -m benchmarks --child NAME``: run one group, write rows and memory as JSON."""
    import torch  # noqa: F401 - imported first so the baseline covers what every group pays

    import seqgen.trainer  # noqa: F401

    baseline = peak_mb()
    rows = run_group(name, options)
    out.write_text(json.dumps({"rows": [asdict(r) for r in rows], "peak_mb": peak_mb(), "baseline_mb": baseline}))


def run_child(name: str, options: Options) -> tuple[list[Row], Row | None]:
    """Run one group in a fresh interpreter; its stdout (trainer messages) goes to our stderr."""
    with tempfile.TemporaryDirectory(prefix="seqgen-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--json-out", str(out),
               "--budget", str(options.budget), "--device", options.device,
               "--threads", str(options.threads), "--text-mb", str(options.text_mb)] + (["--quick"] if options.quick else [])
        code = subprocess.run(cmd, check=False, env=child_env(), stdout=sys.stderr.fileno()).returncode
        if code or not out.exists():
            return [Row(TITLES[name], "", f"failed (exit {code}); see the messages above")], None
        result = json.loads(out.read_text())
    rows = [Row(**r) for r in result["rows"]]
    memory = Row("peak memory", f"{name} (own process, peak RSS)", f"{result['peak_mb']:,.0f} MB",
                 f"after importing torch + seqgen: {result['baseline_mb']:,.0f} MB")
    return rows, memory


def markdown(rows: list[Row]) -> str:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    body = [line(COLUMNS), line(tuple("---" for _ in COLUMNS))]
    body += [line((r.benchmark, r.setting, r.value, r.reference, r.ratio)) for r in rows]
    return "\n".join(body)


def run(names: list[str], options: Options, in_process: bool, argv: list[str]) -> str:
    """All selected groups' rows plus peak-memory rows, as a Markdown table."""
    rows: list[Row] = []
    memory: list[Row] = []
    for name in names:
        print(f"[benchmarks] running {name} ...", file=sys.stderr, flush=True)
        if in_process:
            rows += run_group(name, options)
        else:
            group_rows, mem = run_child(name, options)
            rows += group_rows
            if mem and name != "machine":
                memory.append(mem)
    if "machine" in names:  # the load at the end says whether the run shared the CPU throughout
        rows.append(Row("machine", "load average (1, 5, 15 min) at end", load_average()))
    scope = "this process, all groups (--in-process)" if in_process else "whole run (largest process)"
    memory.append(Row("peak memory", scope, f"{peak_mb():,.0f} MB", "ru_maxrss"))
    command = "python -m benchmarks" + "".join(" " + shlex.quote(a) for a in argv)
    return f"`{command}`\n\n" + markdown(rows + memory)
