"""Training throughput: seqgen's ``Trainer.train_step`` against a bare PyTorch loop (issue 4, target 2).

The bare loop is the reference a user would write by hand: the same model size, optimizer, clipping,
batch, sequence length and carried-state batching, with none of seqgen's bookkeeping. Both run in
the same process and are timed step by step in alternating order (A B B A A B ...), so load from
other processes and thermal drift hit both sides alike; tokens/s comes from the median step time,
which a burst of outside load cannot move the way it moves a mean.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks.common import Options, Row, nanogpt_split, rate, tiny_data

LAYERS, HIDDEN, EMBED = 2, 256, 128  # 0.95M parameters with tiny-shakespeare's vocabulary, as in the issue
BATCH, SEQ, LR, CLIP = 32, 64, 4e-3, 1.0
TARGET = 0.95


class BareLSTM(nn.Module):
    """nn.Embedding -> nn.LSTM -> nn.Linear, nothing else."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, LAYERS, batch_first=True)
        self.head = nn.Linear(HIDDEN, vocab)

    def forward(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        out, state = self.rnn(self.embedding(x), state)
        return self.head(out), state


class BareLoop:
    """Truncated BPTT over BATCH contiguous streams, state carried (detached) between steps.

    Row ``b`` is the slice of the train stream starting at ``b * per_row``, and step ``i`` takes
    its columns ``[i*SEQ, (i+1)*SEQ]``: seqgen's ``BPTTBatches`` layout, but read from one
    preloaded tensor, which is the cheapest way to do it.
    """

    def __init__(self, tokens: np.ndarray, vocab: int, device: torch.device) -> None:
        ids = torch.from_numpy(np.asarray(tokens, dtype=np.int64))
        per_row = (len(ids) - 1) // BATCH
        self.streams = torch.stack([ids[b * per_row: (b + 1) * per_row + 1] for b in range(BATCH)]).to(device)
        self.steps_per_epoch = per_row // SEQ
        self.model = BareLSTM(vocab).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LR, betas=(0.9, 0.99), weight_decay=0.01)
        self.vocab, self.device, self.i = vocab, device, 0
        self.state = self.zero_state()

    def zero_state(self) -> tuple[torch.Tensor, ...]:
        return tuple(torch.zeros(LAYERS, BATCH, HIDDEN, device=self.device) for _ in range(2))

    def step(self) -> None:
        j = (self.i % self.steps_per_epoch) * SEQ
        if j == 0:
            self.state = self.zero_state()
        x, y = self.streams[:, j: j + SEQ], self.streams[:, j + 1: j + SEQ + 1]
        # bf16 autocast on CUDA only, as seqgen's trainer does, so a GPU comparison stays like for like
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            logits, state = self.model(x, self.state)
        loss = F.cross_entropy(logits.float().reshape(-1, self.vocab), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), CLIP)
        self.optimizer.step()
        self.state = tuple(s.detach().float() for s in state)
        self.i += 1


def interleave(a: Callable[[], object], b: Callable[[], object], steps: int,
               sync: Callable[[], None]) -> tuple[list[float], list[float]]:
    """Seconds of each of ``steps`` calls of ``a`` and of ``b``, called in A B B A A B ... order."""
    times: tuple[list[float], list[float]] = ([], [])
    for k in range(steps):
        for side in ((0, 1) if k % 2 == 0 else (1, 0)):
            sync()
            start = time.perf_counter()
            (a, b)[side]()
            sync()
            times[side].append(time.perf_counter() - start)
    return times


def rows(options: Options) -> list[Row]:
    from seqgen.config import Config
    from seqgen.trainer import Trainer, pick_device

    steps, warmup = (3, 1) if options.quick else (200, 20)
    data = tiny_data()
    device = pick_device(options.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    vocab = data.tokenizer.vocab_size
    with tempfile.TemporaryDirectory(prefix="seqgen-bench-") as tmp:
        config = Config(data=nanogpt_split())
        config.update({"model": {"cell": "lstm", "layers": LAYERS, "hidden": HIDDEN, "embed": EMBED, "dropout": 0.0},
                       "train": {"batch_size": BATCH, "seq_len": SEQ, "lr": LR, "grad_clip": CLIP,
                                 "device": options.device, "run_dir": tmp}})
        trainer = Trainer(config, data, echo=lambda _message: None)
        torch.manual_seed(0)
        bare = BareLoop(data.arrays["train"], vocab, device)
        for _ in range(warmup):
            bare.step()
            trainer.train_step()
        bare_t, seqgen_t = interleave(bare.step, trainer.train_step, steps, sync)
    tokens = BATCH * SEQ
    bare_rate, seqgen_rate = tokens / statistics.median(bare_t), tokens / statistics.median(seqgen_t)
    mean_ratio = sum(bare_t) / sum(seqgen_t)
    size = (f"lstm {LAYERS}x{HIDDEN}, embed {EMBED}, vocab {vocab}, {trainer.model.num_parameters():,} params; "
            f"batch {BATCH} x seq {SEQ}, AdamW {LR:g}, clip {CLIP:g}, dropout 0")
    timing = f"{steps} steps each after {warmup} warm-up, alternating A B B A; tok/s at the median step"
    reset = config.train.reset_prob
    return [
        Row("train throughput", f"bare nn.LSTM loop; {size}", rate(bare_rate), "reference (issue: 35,865 tok/s)"),
        Row("train throughput", f"seqgen Trainer.train_step (reset_prob {reset:g}); {timing}", rate(seqgen_rate),
            f"target >= {TARGET:g} x bare",
            f"{seqgen_rate / bare_rate:.3f} (from mean step times: {mean_ratio:.3f})"),
    ]
