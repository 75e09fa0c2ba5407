"""Batches for truncated backpropagation through time, as char-rnn and torch-rnn cut them.

The train stream is cut into ``batch_size`` contiguous streams (rows). Step ``i`` of an epoch
takes columns ``[i*seq_len, (i+1)*seq_len)`` of every row, so row ``b`` of batch ``i+1`` continues
exactly where row ``b`` of batch ``i`` stopped and the model's hidden state can be carried over.
The position is just the global step number, which makes resuming exact.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from seqgen.errors import SeqgenError


class BPTTBatches:
    """Deterministic (x, y) batches of shape (batch_size, seq_len), indexed by global step."""

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, rows: slice = slice(None)) -> None:
        """``rows`` picks this process's streams when several share one global batch."""
        per_row = (len(tokens) - 1) // batch_size
        self.steps_per_epoch = per_row // seq_len
        if self.steps_per_epoch < 1:
            need = batch_size * seq_len + 1
            raise SeqgenError(
                f"the train split has {len(tokens)} tokens, too few for one batch of "
                f"{batch_size} x {seq_len} (needs {need}); use a larger corpus or smaller "
                "--batch-size/--seq-len"
            )
        # Rows are read from the (memory-mapped) stream per batch, so a corpus larger than RAM
        # trains without ever being loaded whole.
        self.tokens = tokens
        self.row_starts = (np.arange(batch_size) * per_row)[rows]
        self.offsets = np.arange(seq_len + 1)
        self.batch_size, self.seq_len = batch_size, seq_len

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch for global step ``step`` (epochs wrap around)."""
        start = (step % self.steps_per_epoch) * self.seq_len
        index = (self.row_starts + start)[:, None] + self.offsets  # one gather for all rows
        window = torch.from_numpy(self.tokens[index].astype(np.int64))
        return window[:, :-1], window[:, 1:]

    def starts_epoch(self, step: int) -> bool:
        """True where the streams restart from their beginning, so carried state must be reset."""
        return step % self.steps_per_epoch == 0


def eval_streams(tokens: np.ndarray, streams: int, width: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Cut a split into ``streams`` contiguous rows for stateful evaluation, ``width`` columns at a time.

    Every token but the first is predicted exactly once: rows are padded at the end and the mask
    marks real targets, so the total loss covers the whole split. Windows are read from the
    (memory-mapped) split as they are needed, so a large split is never held whole.
    Yields (inputs, targets, mask), each of shape (streams, width) (the last may be narrower).
    """
    n = len(tokens) - 1
    if n < 1:
        raise SeqgenError("the split is too small to evaluate (needs at least 2 tokens)")
    streams = max(1, min(streams, n))
    length = -(-n // streams)
    starts = np.arange(streams)[:, None] * length
    ends = np.minimum(starts + length, n)
    for column in range(0, length, width):
        positions = starts + column + np.arange(min(width, length - column))
        mask = positions < ends
        positions = np.where(mask, positions, 0)  # padding reads token 0; its loss is masked out
        x, y = (torch.from_numpy(np.asarray(tokens[positions + k], dtype=np.int64)) for k in (0, 1))
        yield x, y, torch.from_numpy(mask)
