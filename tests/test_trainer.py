"""The trainer: its schedule and budgets, and what a run leaves behind."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
import torch

from seqgen.checkpoint import Checkpoint
from seqgen.errors import SeqgenError
from seqgen.config import Config, TrainConfig, resolve_config
from seqgen.run_dir import read_metrics
from seqgen.trainer import Trainer, learning_rate, progress


def test_warmup_then_linear_decay_to_the_floor() -> None:
    t = TrainConfig(lr=0.01, warmup_steps=10, min_lr_frac=0.0)
    assert learning_rate(t, 0, 0.0) == pytest.approx(0.001)
    assert learning_rate(t, 9, 0.0) == pytest.approx(0.01)
    assert learning_rate(t, 500, 0.5) == pytest.approx(0.005)
    assert learning_rate(t, 900, 1.0) == 0.0
    floor = TrainConfig(lr=0.01, warmup_steps=10, min_lr_frac=0.1)
    assert learning_rate(floor, 900, 1.0) == pytest.approx(0.001)
    assert learning_rate(floor, 900, 1.7) == pytest.approx(0.001)  # past the budget: stays at the floor


def test_progress_is_the_largest_share_of_the_budgets_set() -> None:
    assert progress(TrainConfig(max_steps=100, max_time=0), 25, 999.0, 10) == 0.25
    assert progress(TrainConfig(max_steps=0, max_time=0, epochs=2), 5, 0.0, 10) == 0.25
    # A time budget counts in planned steps, never in seconds, once its step count is fixed...
    assert progress(TrainConfig(max_steps=0, max_time=60, planned_steps=400), 100, 59.0, 10) == 0.25
    assert progress(TrainConfig(max_steps=100, max_time=60, planned_steps=400), 50, 1.0, 10) == 0.5
    # ...before that it only ends a run that has used it up, and a run far slower than planned stops.
    assert progress(TrainConfig(max_steps=0, max_time=60), 5, 30.0, 10) == 0.0
    assert progress(TrainConfig(max_steps=0, max_time=60), 5, 60.0, 10) == 1.0
    assert progress(TrainConfig(max_steps=0, max_time=60, planned_steps=400), 100, 90.0, 10) == 1.0


def test_step_or_epoch_flags_switch_the_default_time_budget_off() -> None:
    assert resolve_config(flags={"max_steps": 200}).train.max_time == 0
    assert resolve_config(flags={"epochs": 2.0}).train.max_time == 0
    assert resolve_config(flags={"max_steps": 200, "max_time": 30}).train.max_time == 30
    assert resolve_config("cpu", flags={"max_steps": 200}).train.max_time == 0
    assert resolve_config("cpu").train.max_time > 0 and resolve_config().train.max_time == 600


def test_a_run_leaves_a_complete_resumable_checkpoint(small_text: Path) -> None:
    config = Config()
    config.update({"corpus": str(small_text), "hidden": 16, "embed": 8, "batch_size": 4, "seq_len": 16,
                   "max_time": 0, "max_steps": 6, "eval_every": 3, "run_dir": "run"})
    trainer = Trainer(config, echo=lambda _message: None)
    result = trainer.run()
    assert result.step == 6 and result.run_dir == Path("run")
    last = Checkpoint.load("run", name="last.pt")
    assert last.resumable and last.step == 6 and last.domain == "text" and last.corpus == small_text.stem
    assert last.best_val == result.best_val and last.train_time == pytest.approx(result.train_time)
    assert [s.shape for s in last.state] == [(2, 4, 16)] * 2  # LSTM (h, c) of every stream
    model, tokenizer, loaded = last.build()
    assert loaded.model.hidden == 16 and tokenizer.vocab_size == loaded.model.vocab_size
    x = torch.randint(0, tokenizer.vocab_size, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x)[0], trainer.model.eval()(x)[0])


def test_weights_that_blow_up_are_never_checkpointed(small_text: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss of the poisoned step is still finite; the evaluation right after it is not."""
    config = Config()
    config.update({"corpus": str(small_text), "hidden": 16, "embed": 8, "batch_size": 4, "seq_len": 16,
                   "max_time": 0, "max_steps": 10, "eval_every": 2, "run_dir": "run"})
    trainer = Trainer(config, echo=lambda _message: None)
    step = trainer.optimizer.step

    def poisoned_step(*args, **kwargs):
        step(*args, **kwargs)
        if trainer.step == 3:  # the optimizer step that takes the run to step 4
            trainer.model.head.bias.data.fill_(float("inf"))

    monkeypatch.setattr(trainer.optimizer, "step", poisoned_step)
    with pytest.raises(SeqgenError, match="validation loss became nan at step 4; stopped without saving"):
        trainer.run()
    for name in ("last.pt", "best.pt"):
        kept = Checkpoint.load(Path("run") / name)
        assert kept.step == 2 and all(torch.isfinite(t).all() for t in kept.model.values())


def tiny_config(corpus: Path, run_dir: str, **train: object) -> Config:
    config = Config()
    config.update({"corpus": str(corpus), "hidden": 16, "embed": 8, "batch_size": 4, "seq_len": 16, "dropout": 0.2,
                   "eval_every": 10_000, "max_steps": 0, "run_dir": run_dir, **train})
    return config


class FakeClock:
    """``time.perf_counter`` that advances ``tick`` seconds per call, so timing is deterministic."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_time_budget_resume_follows_the_planned_steps_exactly(small_text: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A time budget is planned into steps after the first few; a run interrupted after that and
    resumed on a clock 40% slower ends with the same weights as the uninterrupted run: the schedule
    follows the planned steps, never the clock."""
    quiet = lambda _message: None  # noqa: E731
    monkeypatch.setattr(time, "perf_counter", FakeClock(0.005))  # 1 s of budget: about 200 steps
    whole = Trainer(tiny_config(small_text, "whole", max_time=1.0), echo=quiet)
    whole.run()
    planned = whole.config.train.planned_steps
    assert planned == whole.step and 150 < planned < 250

    monkeypatch.setattr(time, "perf_counter", FakeClock(0.005))
    part = Trainer(tiny_config(small_text, "part", max_time=1.0), echo=quiet)
    step = part.train_step

    def interrupted_at_100() -> float:
        loss = step()
        if part.step == 100:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl+C would, between two steps
        return loss

    monkeypatch.setattr(part, "train_step", interrupted_at_100)
    with pytest.raises(SeqgenError, match="interrupted at step 100"):
        part.run()
    assert Checkpoint.load("part", name="last.pt").config["train"]["planned_steps"] == planned

    monkeypatch.setattr(time, "perf_counter", FakeClock(0.007))  # the machine got slower
    resumed = Trainer.resume("part", echo=quiet)
    resumed.run()
    a, b = Checkpoint.load("part", name="last.pt"), Checkpoint.load("whole", name="last.pt")
    assert a.step == b.step == planned and a.train_time > b.train_time
    for name, tensor in b.model.items():
        torch.testing.assert_close(a.model[name], tensor, rtol=0, atol=0, msg=name)


def twenty_steps(small_text: Path, **train: object) -> Config:
    """Twenty steps of the tiny model, evaluated at 10 and 20, into ./run."""
    return tiny_config(small_text, "run", max_time=0, max_steps=20, eval_every=10, **train)


def test_a_run_logs_its_speed_and_keeps_its_thread_count(small_text: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--threads 1`` holds for the whole run; the count found before comes back after it; every
    training row says how many steps per second the run made, and so does each evaluation line."""
    before = torch.get_num_threads()
    seen: list[int] = []
    real_step = Trainer.train_step
    monkeypatch.setattr(Trainer, "train_step", lambda self: (seen.append(torch.get_num_threads()), real_step(self))[1])
    said: list[str] = []
    Trainer(twenty_steps(small_text, threads=1), echo=said.append).run()
    assert set(seen) == {1} and torch.get_num_threads() == before
    rows = [r for r in read_metrics(Path("run") / "metrics.jsonl") if "train_loss" in r]
    assert len(rows) == 2 and all(r["steps_per_s"] > 0 for r in rows)
    assert any("(1 thread)" in line for line in said)
    assert sum("steps/s" in line for line in said if "val loss" in line) == 2


def test_tensorboard_gets_the_metrics(small_text: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(twenty_steps(small_text, tensorboard=True), echo=lambda _message: None).run()
    events = EventAccumulator("run")
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"loss/train", "loss/val", "lr", "speed/steps_per_s"} <= set(tags)
    assert [e.step for e in events.Scalars("loss/val")] == [10, 20]


def test_tensorboard_missing_is_one_clear_error(small_text: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were absent
    with pytest.raises(SeqgenError, match=r"pip install 'seqgen\[tensorboard\]'"):
        Trainer(twenty_steps(small_text, tensorboard=True), echo=lambda _message: None).run()


def test_a_plan_follows_the_speed_both_ways() -> None:
    """Planned from slow first steps, a run that speeds up gets the steps its budget now fits; one
    that slows down gets fewer, so it still anneals near its budget (checked every CHECK_STEPS
    steps, and only where the speed is more than SHIFT off)."""
    from seqgen.trainer import CHECK_STEPS, SpeedClock

    t = TrainConfig(max_steps=0, max_time=100.0, planned_steps=1000)
    clock = SpeedClock(first_step=0)
    assert not clock.tick(t, 10, 1.0)  # timing starts after the settling steps
    at = 10 + CHECK_STEPS
    assert clock.tick(t, at, 21.0)  # 25 steps/s since: 79 s left fit ~2,000 more
    assert clock.plan(t, at, 21.0) == at + round(79 * 25)
    assert not clock.tick(t, at + 1, 21.04)  # checked only every CHECK_STEPS steps
    assert clock.tick(t, at, 81.0)  # 6.25 steps/s: 19 s left fit ~119 more, not 490
    assert clock.plan(t, at, 81.0) == at + round(19 * 6.25)
    assert not clock.tick(t, at, 51.0)  # 10 steps/s: the 1,000 planned fit, the plan stands
