"""torch's thread count is process-global: neither the server nor ``generate()`` may change it;
only the CLI's ``sample``, a process of its own, chooses it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from starlette.testclient import TestClient
from tiny_runs import MUSIC_RUN, TEXT_RUN

from seqgen.checkpoint import Checkpoint
from seqgen.cli import main
from seqgen.sampler import SamplingSettings, generate


@pytest.fixture
def thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every torch.set_num_threads(n) made from now on (still made), starting from 2 threads; the
    count is put back after."""
    calls: list[int] = []
    real = torch.set_num_threads
    before = torch.get_num_threads()
    real(2)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n))[1])
    yield calls
    real(before)


def test_concurrent_requests_leave_the_thread_count_alone(client: TestClient, thread_calls: list[int]) -> None:
    statuses: list[int] = []

    def ask(domain: str, run: str, seed: str) -> None:
        for _ in range(3):
            body = {"checkpoint": run, "seed": seed, "length": 20, "num_samples": 2}
            statuses.append(client.post(f"/api/generate/{domain}", json=body).status_code)

    threads = [threading.Thread(target=ask, args=("text", TEXT_RUN, name)) for name in ("ROMEO", "JULIET", "NURSE")]
    threads.append(threading.Thread(target=ask, args=("music", MUSIC_RUN, "C4 E4")))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [200] * 12
    assert thread_calls == [] and torch.get_num_threads() == 2


def test_generate_leaves_the_thread_count_alone(runs: Path, thread_calls: list[int]) -> None:
    model = Checkpoint.load(runs / TEXT_RUN).build()[0]
    steps = generate(model, [1, 2], 5, SamplingSettings(), num_samples=1)
    next(steps)
    assert torch.get_num_threads() == 2  # not even while it runs
    assert len(list(steps)) == 4 and thread_calls == []


@pytest.mark.parametrize("samples, calls", [(1, [1]), (16, [2])])  # 16 streams keep all 2 threads
def test_the_sample_command_takes_one_thread_for_a_few_samples(runs: Path, thread_calls: list[int], samples: int,
                                                               calls: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("seqgen.device.others_load", lambda own_threads=0: 0.0)  # a quiet machine
    monkeypatch.setattr("seqgen.device.usable_cores", lambda: 2)
    result = CliRunner().invoke(main, ["sample", "--checkpoint", str(runs / TEXT_RUN), "--seed", "R", "--length", "5",
                                       "--num-samples", str(samples)])
    assert result.exit_code == 0, result.output
    assert thread_calls == calls
