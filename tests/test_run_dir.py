"""The run directory survives races, kills, torn appends, resumes and unwritable disks."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqgen import run_dir
from seqgen.errors import SeqgenError
from seqgen.plots import plot_loss_curve
from seqgen.run_dir import RunDir

ROUNDS = 20

# Enters RunDir(<folder>/<round>) at an agreed instant each round, holds it 0.3 s, prints who won.
STARTER = """
import sys, time
from pathlib import Path
from seqgen.errors import SeqgenError
from seqgen.run_dir import RunDir
folder, start, rounds = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
for r in range(rounds):
    at = start + 0.4 * r
    time.sleep(max(0.0, at - time.time() - 0.005))
    while time.time() < at:
        pass
    try:
        with RunDir(folder / str(r)):
            print(r, "won", flush=True)
            time.sleep(0.3)
    except SeqgenError as err:
        assert "another training" in str(err), err
"""


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_two_starters_exactly_one_wins_each_time(tmp_path: Path) -> None:
    stale = str(dead_pid())
    for r in range(ROUNDS):  # each round starts from a lock left by a killed training
        (tmp_path / str(r)).mkdir()
        (tmp_path / str(r) / ".lock").write_text(stale)
    start = time.time() + 1.5  # both interpreters are up and waiting by then
    command = [sys.executable, "-c", STARTER, str(tmp_path), str(start), str(ROUNDS)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    wins = [line.split()[0] for out, _ in outputs for line in out.splitlines()]
    assert sorted(wins, key=int) == [str(r) for r in range(ROUNDS)], wins


@pytest.mark.parametrize("holder", ["dead", "live foreign", "garbage", "empty"])
def test_leftover_lock_file_does_not_block(tmp_path: Path, holder: str) -> None:
    content = {"dead": str(dead_pid()), "live foreign": str(os.getppid()), "garbage": "x1", "empty": ""}[holder]
    (tmp_path / ".lock").write_text(content)
    with RunDir(tmp_path) as run:
        run.log({"step": 1})
    assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())


def test_held_lock_refuses_and_names_the_holder(tmp_path: Path) -> None:
    with RunDir(tmp_path):
        with pytest.raises(SeqgenError, match=rf"another training \(pid {os.getpid()}\) is writing into {tmp_path}"):
            RunDir(tmp_path).__enter__()
    with RunDir(tmp_path):  # released on exit
        pass


def test_damaged_metrics_lines_are_skipped(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_bytes(b'{"step": 10, "train_loss": 2.0}\n{"step": 20, "tra\n\xff\x00\n[1]\n'
                        b'{"step": 20, "train_loss": 1.5, "val_loss": 1.7}\n')
    assert [row["step"] for row in run_dir.read_metrics(metrics)] == [10, 20]
    plot_loss_curve(metrics, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").stat().st_size > 0


def test_log_after_a_torn_append_starts_a_new_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"step": 10, "train_loss": 2.0}\n{"step": 20, "trai')
    writes: list[bytes] = []
    real_write = os.write

    def spy(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    with RunDir(tmp_path) as run:
        monkeypatch.setattr(os, "write", spy)
        run.log({"step": 20, "train_loss": 1.5})
        monkeypatch.undo()
    assert writes == [b'\n{"step": 20, "train_loss": 1.5}\n']  # one whole line in one write
    assert [row["step"] for row in run_dir.read_metrics(run.metrics)] == [10, 20]


def test_truncate_metrics_keeps_rows_up_to_the_checkpoint(tmp_path: Path) -> None:
    with RunDir(tmp_path) as run:
        run.truncate_metrics(after_step=0)  # no metrics yet: nothing to do
        for step in (10, 20, 30, 40):
            run.log({"step": step, "train_loss": 1.0})
        run.log({"step": 30, "val_loss": 1.2})
        with open(run.metrics, "a") as f:
            f.write('{"step": 5, "tra\n')
        run.truncate_metrics(after_step=30)
        lines = run.metrics.read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [10, 20, 30, 30]


def test_leftover_temp_files_are_removed(tmp_path: Path) -> None:
    dead = dead_pid()
    leftovers = [f".last.tmp-{dead}-ab12cd34.pt", f".config.tmp-{dead}-0123abcd.json", f".loss.tmp-{dead}-ffffffff.png"]
    kept = [f".best.tmp-{os.getpid()}-ab12cd34.pt", "notes.tmp-1-ab12cd34.txt", "last.pt", ".lock"]
    for name in leftovers + kept:
        (tmp_path / name).write_text("x")
    with RunDir(tmp_path):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_read_only_run_dir_is_a_one_line_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the simulated tests below cover this")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(SeqgenError, match=f"cannot write into run directory {tmp_path}.*Permission denied"):
            RunDir(tmp_path / "run").__enter__()
        with pytest.raises(SeqgenError, match=f"cannot write into run directory {tmp_path}: Permission denied"):
            RunDir(tmp_path).__enter__()
    finally:
        tmp_path.chmod(0o755)


def test_run_dir_under_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SeqgenError, match="cannot write into run directory .*file/run"):
        RunDir(tmp_path / "file" / "run").__enter__()


def test_unopenable_lock_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(SeqgenError, match=f"cannot write into run directory {tmp_path}: Permission denied"):
        RunDir(tmp_path).__enter__()


def test_full_disk_is_a_one_line_error_and_leaves_no_lock_held(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", full)
        with pytest.raises(SeqgenError, match=f"cannot write into run directory {tmp_path}: No space left"):
            RunDir(tmp_path).__enter__()
    with RunDir(tmp_path) as run:  # the failed start holds nothing
        with monkeypatch.context() as patch:
            patch.setattr(os, "write", full)
            with pytest.raises(SeqgenError, match=f"cannot write into run directory {tmp_path}: No space left"):
                run.log({"step": 1})
        run.log({"step": 2})
    assert [row["step"] for row in run_dir.read_metrics(run.metrics)] == [2]
