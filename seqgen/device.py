"""Where and in what precision the model runs: CUDA, Apple's MPS or the CPU; bf16 or fp32.

Shared by training, evaluation and the benchmarks, so every path makes the same choice.
"""

from __future__ import annotations

import torch

from seqgen.errors import SeqgenError


def pick_device(name: str) -> torch.device:
    """``auto`` prefers CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SeqgenError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SeqgenError("--device cuda was asked for, but no CUDA GPU is available")
    return device


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether to autocast to bf16: ``auto`` asks for hardware that computes it natively (CUDA
    GPUs with bf16, CPUs with AVX-512 BF16 or AMX), where it is faster; emulated bf16 is slower."""
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a build without oneDNN
            return False
    return False
