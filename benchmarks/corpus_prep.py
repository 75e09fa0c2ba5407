"""Corpus preparation: ``seqgen.dataset.prepare`` on an empty cache, then again on the warm one (target 4).

Besides the named corpora, a large plain-text file (``--text-mb``, default 1024 MB: tiny-shakespeare
repeated) is tokenized to show that text streams through in bounded memory.

Each measurement runs in a fresh Python process, as a user's second ``seqgen train`` would: an
in-process repeat would profit from modules and memoised lookups the first call left behind and
report a cached time no user sees. The clock starts after ``import seqgen.dataset`` (torch),
so it covers resolving the corpus (adapter imports included) and building or loading the arrays.

Run directly, ``python -m benchmarks.corpus_prep NAME`` prints one JSON measurement.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Options, Row, child_env

CORPORA = ("tinyshakespeare", "bach", "folk")
CACHED_TARGET_S = 1.0
BIG_TEXT_PEAK_TARGET_MB = 500  # "a few hundred MB", torch's own ~220 MB included


def measure(name: str) -> dict:
    """Time load_corpus + prepare once in this process; ``error`` says why it could not run."""
    from seqgen.config import DataConfig
    from seqgen.corpus import load_corpus
    from seqgen.paths import corpora_dir
    from seqgen.dataset import prepare
    from seqgen.errors import SeqgenError

    if name == "tinyshakespeare" and not (corpora_dir() / name / "input.txt").is_file():
        return {"error": f"{corpora_dir() / name / 'input.txt'} not found (no downloads in benchmarks)"}
    # tiny-shakespeare with nanoGPT's split (as the training rows use it); music with seqgen's defaults
    split = DataConfig(corpus=name, val_frac=0.1, test_frac=0.0) if name == "tinyshakespeare" else DataConfig(name)
    start = time.perf_counter()
    try:
        data = prepare(load_corpus(name), split)
    except (SeqgenError, ImportError) as err:
        return {"error": f"{type(err).__name__}: {err}"}
    seconds = time.perf_counter() - start
    peak_kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return {"seconds": seconds, "tokens": sum(len(a) for a in data.arrays.values()),
            "vocab": data.tokenizer.vocab_size, "peak_mb": peak_kb / 1024}


def write_big_text(path: Path, megabytes: int) -> int:
    """A text file of about ``megabytes`` MB: tiny-shakespeare repeated (generated lines if it is absent)."""
    from seqgen.paths import corpora_dir

    tiny = corpora_dir() / "tinyshakespeare" / "input.txt"
    block = tiny.read_bytes() if tiny.is_file() else b"".join(b"line %d of a generated corpus\n" % i for i in range(40_000))
    with path.open("wb") as f:
        while f.tell() < megabytes * 2**20:
            f.write(block)
        return f.tell()


def measure_in_child(name: str, cache: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.corpus_prep", name], check=False,
                          env=child_env(SEQGEN_CACHE=cache), capture_output=True, text=True, timeout=3600)
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"failed (exit {proc.returncode}): {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rows(options: Options) -> list[Row]:
    out: list[Row] = []
    for name in CORPORA:
        if options.quick and name != "tinyshakespeare":
            out.append(Row("corpus prep", name, "n/a (skipped in --quick: the first parse takes tens of seconds)"))
            continue
        with tempfile.TemporaryDirectory(prefix="seqgen-bench-cache-") as cache:
            first = measure_in_child(name, cache)
            if "error" in first:
                out.append(Row("corpus prep", name, f"n/a ({first['error']})"))
                continue
            cached = measure_in_child(name, cache)
        facts = f"{first['tokens']:,} tokens, vocab {first['vocab']}, peak RSS {first['peak_mb']:,.0f} MB"
        out.append(Row("corpus prep", f"{name}: first (empty cache)", f"{first['seconds']:.2f} s", facts))
        if "error" in cached:
            out.append(Row("corpus prep", f"{name}: cached", f"n/a ({cached['error']})"))
        else:
            out.append(Row("corpus prep", f"{name}: cached (new process)", f"{cached['seconds']:.3f} s",
                           f"target < {CACHED_TARGET_S:g} s", f"{cached['seconds'] / CACHED_TARGET_S:.3f}"))
    return out + big_text_rows(options.text_mb)


def big_text_rows(megabytes: int) -> list[Row]:
    """Stream a large text file through the char tokenizer; peak RSS is the point."""
    with tempfile.TemporaryDirectory(prefix="seqgen-bench-text-") as tmp:
        path = Path(tmp) / "big.txt"
        size = write_big_text(path, megabytes)
        result = measure_in_child(str(path), str(Path(tmp) / "cache"))
    setting = f"{size / 2**20:,.0f} MB text file (char, streamed): first"
    if "error" in result:
        return [Row("corpus prep", setting, f"n/a ({result['error']})")]
    return [Row("corpus prep", setting, f"{result['seconds']:.1f} s",
                f"{result['tokens']:,} tokens, vocab {result['vocab']}, {size / 2**20 / result['seconds']:,.0f} MB/s"),
            Row("corpus prep", f"{size / 2**20:,.0f} MB text file: peak RSS", f"{result['peak_mb']:,.0f} MB",
                f"target <= {BIG_TEXT_PEAK_TARGET_MB} MB", f"{result['peak_mb'] / BIG_TEXT_PEAK_TARGET_MB:.2f}")]


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1])))
