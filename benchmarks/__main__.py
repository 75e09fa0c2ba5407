"""``python -m benchmarks [--only NAME[,NAME]] [--quick] [--budget SECONDS]``: print the results table.

Progress and trainer messages go to stderr; only the table goes to stdout, so
``python -m benchmarks > table.md`` captures a clean result.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from benchmarks.common import Options, setup_env
from benchmarks.harness import GROUPS, child_main, run


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"run only these groups (comma-separated or repeated): {', '.join(GROUPS)}")
    parser.add_argument("--quick", action="store_true",
                        help="shrink every budget (about a minute in all): a smoke test, not a measurement")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of training for the val-loss row (default 71; 5 with --quick)")
    parser.add_argument("--device", default="cpu", help="device for the training rows (cpu, cuda, auto)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice, one per core); 1 is steadier on a shared CPU")
    parser.add_argument("--text-mb", type=int, default=None,
                        help="size of the text file the corpus group tokenizes (default 1024; 16 with --quick)")
    parser.add_argument("--in-process", action="store_true",
                        help="run every group in this process (no per-group peak memory)")
    parser.add_argument("--child", choices=list(GROUPS), help=argparse.SUPPRESS)
    parser.add_argument("--json-out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    budget = args.budget if args.budget is not None else (5.0 if args.quick else 71.0)
    if budget <= 0:
        print("--budget must be positive", file=sys.stderr)
        return 2
    if args.threads < 0:
        print("--threads must be >= 0", file=sys.stderr)
        return 2
    text_mb = args.text_mb if args.text_mb is not None else (16 if args.quick else 1024)
    if text_mb <= 0:
        print("--text-mb must be positive", file=sys.stderr)
        return 2
    options = Options(quick=args.quick, budget=budget, device=args.device, threads=args.threads, text_mb=text_mb)
    if args.child:
        child_main(args.child, options, args.json_out)
        return 0
    names = [n.strip() for spec in args.only for n in spec.split(",") if n.strip()] or list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    names = [n for n in GROUPS if n in names]  # table order, no duplicates
    created = setup_env()
    try:
        print(run(names, options, args.in_process, argv))
    finally:
        if created:
            shutil.rmtree(created, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
