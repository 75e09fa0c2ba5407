"""Sampling on a GPU: where a model samples, and the random generator its draws use there.

The step itself is ``seqgen.model.Stepper`` with its weights on the GPU, launched op by op. A
CUDA graph of the step was tried (issue 14): replayed 2.4-3.8x faster for models up to 1,024
units on an H100, but inside ``generate`` (inference mode) its replays drifted from the eager
step within a few tokens and gave NaN logits for a music model, so it is not used until a
capture that passes ``tests/test_cuda_step.py`` on a GPU lands.
"""

from __future__ import annotations

import torch

from seqgen.device import pick_device

#: ``--device auto`` samples models at least this wide on a GPU when there is one. A narrower
#: model's step is too small to fill a GPU, and a CPU core runs it without the GPU's start-up.
GPU_HIDDEN = 1024


def sampling_device(name: str, hidden: int) -> torch.device:
    """Where a model of ``hidden`` units samples: ``auto`` takes CUDA for GPU_HIDDEN units or more
    when a GPU is there and the CPU otherwise; any other name as ``seqgen.device.pick_device``."""
    if name == "auto":
        return torch.device("cuda" if hidden >= GPU_HIDDEN and torch.cuda.is_available() else "cpu")
    return pick_device(name)


def on_device(generator: torch.Generator | None, device: torch.device) -> torch.Generator | None:
    """A generator on ``device`` seeded from ``generator``: torch draws on a GPU only from a GPU
    generator, and a seeded request must still give the same samples each time."""
    if generator is None or device.type == "cpu":
        return generator
    return torch.Generator(device).manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
