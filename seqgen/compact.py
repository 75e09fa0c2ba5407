"""Compact weights for the sampling step: int8 rows with one scale per output, for small batches.

One sampling stream multiplies a single row by each weight matrix per token; for a 2x256 LSTM
that reads about 3 MB of float32 weights a step, more than a core's cache holds, so the step waits
on memory. Stored as int8 with a per-row scale the same weights take a quarter of that and stay in
cache. torch's ``_weight_int8pack_mm`` (weight-only int8, bf16 activations) does the product; on
a CPU it beats float32 only for a few rows at a time (measured in benchmarks/sampling.py), so a
batch of COMPACT_ROWS or more takes the float32 copy, which is kept too (a quarter more memory).
The sampled distribution stays close to float32's: the benchmark reports the KL divergence.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

#: Batches with fewer rows than this use the int8 weights; larger ones the float32 copy, where
#: the matrix product is compute-bound and MKL's float32 kernels win.
COMPACT_ROWS = 4
#: The int8 kernel needs the input size to be a multiple of this: with 8, 24, 40, 72 or 130 it
#: returned wrong sums or crashed the process (torch 2.13 CPU); other matrices stay float32.
INT8_BLOCK = 16


def int8_rows(weight: Tensor) -> tuple[Tensor, Tensor]:
    """``weight`` (out, in) as int8 rows and per-row scales (bf16) with weight ~= rows * scales[:, None].

    Symmetric rounding to the nearest of 255 levels per row: the error of an entry is at most half
    a level, 1/254 of its row's largest magnitude."""
    scales = weight.abs().amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny) / 127
    rows = torch.round(weight / scales[:, None]).clamp_(-127, 127).to(torch.int8)
    return rows.contiguous(), scales.to(torch.bfloat16)


@cache
def int8_supported() -> bool:
    """Whether this torch build has the weight-only int8 product (added in torch 2.3; private);
    checked once per process."""
    if not hasattr(torch, "_weight_int8pack_mm"):
        return False
    try:
        rows, scales = int8_rows(torch.ones(8, 8))
        torch._weight_int8pack_mm(torch.ones(1, 8, dtype=torch.bfloat16), rows, scales)
    except (RuntimeError, NotImplementedError):  # a build or CPU without the kernel
        return False
    return True


class StepWeight:
    """``bias + x @ W`` for one of the sampling step's matrices, from int8 rows for a few rows of
    ``x`` and from float32 otherwise. ``weight`` is given as (in, out), the step's layout."""

    def __init__(self, weight: Tensor, compact: bool) -> None:
        self.fp32 = weight.contiguous()
        self.int8 = int8_rows(weight.t()) if compact and weight.shape[0] % INT8_BLOCK == 0 else None

    def addmm(self, bias: Tensor, x: Tensor) -> Tensor:
        """``bias + x @ W`` in float32; ``bias`` is (out,) or (batch, out)."""
        if self.int8 is not None and x.shape[0] < COMPACT_ROWS:
            return bias + torch._weight_int8pack_mm(x.to(torch.bfloat16), *self.int8)
        return torch.addmm(bias, x, self.fp32)
