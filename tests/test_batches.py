import numpy as np
import pytest
import torch

from seqgen.batches import BPTTBatches, eval_streams
from seqgen.errors import SeqgenError


def test_rows_continue_across_batches() -> None:
    tokens = np.arange(1000) % 60000
    batches = BPTTBatches(tokens, batch_size=4, seq_len=10)
    x0, y0 = batches[0]
    x1, _ = batches[1]
    assert (x1[:, 0] == x0[:, -1] + 1).all()  # row b of batch 1 continues row b of batch 0
    assert (y0 == x0 + 1).all()  # targets are the next tokens
    starts = x0[:, 0].tolist()
    assert starts == sorted(starts) and len(set(starts)) == 4  # contiguous, disjoint streams in order
    assert batches.steps_per_epoch == (999 // 4) // 10
    assert (batches[batches.steps_per_epoch][0] == x0).all()  # epochs wrap around
    assert batches.starts_epoch(0) and batches.starts_epoch(batches.steps_per_epoch)


def test_too_small_corpus_says_how_small() -> None:
    with pytest.raises(SeqgenError, match=r"has 50 tokens.*needs 641"):
        BPTTBatches(np.arange(50), batch_size=10, seq_len=64)


@pytest.mark.parametrize("n, streams, width", [(2, 16, 256), (101, 7, 4), (1000, 16, 256), (1000, 16, 7), (17, 100, 1)])
def test_eval_streams_predict_every_token_once(n: int, streams: int, width: int) -> None:
    tokens = np.arange(n)
    windows = list(eval_streams(tokens, streams, width))
    assert all(w[0].shape[1] <= width for w in windows)
    x, y, mask = (torch.cat([w[k] for w in windows], dim=1) for k in range(3))
    assert sorted(y[mask].tolist()) == list(range(1, n))
    assert (y[mask] == x[mask] + 1).all()
