"""Device, precision and CPU thread choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from seqgen import device
from seqgen.config import Config
from seqgen.device import ThreadShare, pick_device, usable_cores, use_bf16
from seqgen.errors import SeqgenError


def test_precision_choice() -> None:
    cpu = torch.device("cpu")
    assert use_bf16("bf16", cpu) and not use_bf16("fp32", cpu)
    assert use_bf16("auto", cpu) == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert not use_bf16("auto", torch.device("meta"))  # neither CUDA nor CPU: fp32
    config = Config()
    config.update({"precision": "fp16"})
    with pytest.raises(SeqgenError, match="unknown precision 'fp16'"):
        config.validate()


def test_device_names() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(SeqgenError, match="unknown device 'gpu0'"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(SeqgenError, match="no CUDA GPU"):
            pick_device("cuda")


def test_usable_cores_follow_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 2, 5}, raising=False)
    assert usable_cores() == 3


def test_others_load_reads_the_run_queue_less_the_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("7.50 6.00 5.00 4/321 9999\n")
    monkeypatch.setattr(device, "LOADAVG", str(loadavg))
    monkeypatch.setattr(device, "LOAD_PAUSE", 0)
    assert device._own_running() >= 1  # the reading thread itself, read from /proc/self/task
    monkeypatch.setattr(device, "_own_running", lambda: 1)
    assert device.others_load() == 3  # the reading thread is one of the 4 runnable
    # Our own spinning OpenMP workers (torch's default wait policy, as under seqgen.train() from
    # Python) are runnable too, and are not other work.
    monkeypatch.setattr(device, "_own_running", lambda: 3)
    assert device.others_load() == 1
    # Without /proc (macOS): the one-minute average, less this process's own threads.
    monkeypatch.setattr(device, "LOADAVG", str(tmp_path / "missing"))
    monkeypatch.setattr(os, "getloadavg", lambda: (3.25, 1.0, 1.0))
    assert device.others_load(own_threads=2) == 1.25 and device.others_load(own_threads=8) == 0


@pytest.mark.parametrize("busy, threads", [(0.0, 4), (0.4, 4), (1.6, 2), (3.0, 1), (40.0, 1)])
def test_fair_threads_are_the_cores_left_free(monkeypatch: pytest.MonkeyPatch, busy: float, threads: int) -> None:
    monkeypatch.setattr(device, "usable_cores", lambda: 4)
    monkeypatch.setattr(device, "others_load", lambda own_threads=0: busy)
    assert device.fair_threads() == threads


def test_thread_share_follows_the_load_and_puts_the_count_back(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    busy = [0.0]
    monkeypatch.setattr(device, "usable_cores", lambda: 2)
    monkeypatch.setattr(device, "others_load", lambda own_threads=0: busy[0])
    share = ThreadShare(every=10)
    try:
        assert torch.get_num_threads() == share.threads == 2
        busy[0] = 1.0
        assert share.check(5.0) is None and torch.get_num_threads() == 2  # not yet time to look
        assert "other work is using the CPU: 1 torch thread instead of 2" == share.check(10.0)
        assert torch.get_num_threads() == 1
        busy[0] = 0.0
        assert share.check(15.0) is None  # the next look is 10 s after the last
        assert "cores came free" in share.check(20.0) and torch.get_num_threads() == 2
    finally:
        share.close()
    assert torch.get_num_threads() == before
    fixed = ThreadShare(fixed=1)
    busy[0] = 0.0
    assert fixed.check(100.0) is None and torch.get_num_threads() == 1  # --threads 1 stays 1
    fixed.close()
    assert torch.get_num_threads() == before
