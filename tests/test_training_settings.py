"""The learning-rate schedule and the precision choice."""

from __future__ import annotations

import pytest
import torch

from seqgen.config import Config, TrainConfig
from seqgen.errors import SeqgenError
from seqgen.device import use_bf16
from seqgen.trainer import learning_rate


def test_warmup_then_linear_decay_to_the_floor() -> None:
    t = TrainConfig(lr=0.01, warmup_steps=10, min_lr_frac=0.0)
    assert learning_rate(t, 0, 0.0) == pytest.approx(0.001)
    assert learning_rate(t, 9, 0.0) == pytest.approx(0.01)
    assert learning_rate(t, 500, 0.5) == pytest.approx(0.005)
    assert learning_rate(t, 900, 1.0) == 0.0
    floor = TrainConfig(lr=0.01, warmup_steps=10, min_lr_frac=0.1)
    assert learning_rate(floor, 900, 1.0) == pytest.approx(0.001)
    assert learning_rate(floor, 900, 1.7) == pytest.approx(0.001)  # past the budget: stays at the floor


def test_precision_choice() -> None:
    cpu = torch.device("cpu")
    assert use_bf16("bf16", cpu) and not use_bf16("fp32", cpu)
    assert use_bf16("auto", cpu) == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert not use_bf16("auto", torch.device("meta"))  # neither CUDA nor CPU: fp32
    config = Config()
    config.update({"precision": "fp16"})
    with pytest.raises(SeqgenError, match="unknown precision 'fp16'"):
        config.validate()
