"""Device and precision choice."""

from __future__ import annotations

import pytest
import torch

from seqgen.config import Config
from seqgen.device import pick_device, use_bf16
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
