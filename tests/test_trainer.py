"""The trainer: its schedule and budgets, and what a run leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqgen.checkpoint import Checkpoint
from seqgen.config import Config, TrainConfig
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
    assert progress(TrainConfig(max_steps=0, max_time=60), 999, 30.0, 10) == 0.5
    assert progress(TrainConfig(max_steps=0, max_time=0, epochs=2), 5, 0.0, 10) == 0.25
    assert progress(TrainConfig(max_steps=100, max_time=60), 10, 30.0, 10) == 0.5


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
