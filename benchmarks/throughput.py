"""Training throughput: seqgen's ``Trainer.train_step`` against a bare PyTorch loop.

The bare loop is the reference a user would write by hand: the same model size, optimizer, clipping,
batch, sequence length, precision and carried-state batching, with none of seqgen's bookkeeping.
Where seqgen trains in bf16 (its ``auto`` precision on CPUs with AVX-512 BF16, and on CUDA), a
second, fp32 bare loop shows what bf16 buys. All run in the same process and are timed step by step
in rotating order (A B C, B C A, ...), so load from other processes and thermal drift hit every
side alike; tokens/s comes from the median step time, which a burst of outside load cannot move
the way it moves a mean.
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

from benchmarks.common import Options, Row, nanogpt_split, rate, token_data

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

    def __init__(self, tokens: np.ndarray, vocab: int, device: torch.device, bf16: bool) -> None:
        ids = torch.from_numpy(np.asarray(tokens, dtype=np.int64))
        per_row = (len(ids) - 1) // BATCH
        self.streams = torch.stack([ids[b * per_row: (b + 1) * per_row + 1] for b in range(BATCH)]).to(device)
        self.steps_per_epoch = per_row // SEQ
        self.model = BareLSTM(vocab).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LR, betas=(0.9, 0.99), weight_decay=0.01)
        self.vocab, self.device, self.bf16, self.i = vocab, device, bf16, 0
        self.state = self.zero_state()

    def zero_state(self) -> tuple[torch.Tensor, ...]:
        return tuple(torch.zeros(LAYERS, BATCH, HIDDEN, device=self.device) for _ in range(2))

    def step(self) -> None:
        j = (self.i % self.steps_per_epoch) * SEQ
        if j == 0:
            self.state = self.zero_state()
        x, y = self.streams[:, j: j + SEQ], self.streams[:, j + 1: j + SEQ + 1]
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits, state = self.model(x, self.state)
        loss = F.cross_entropy(logits.float().reshape(-1, self.vocab), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), CLIP)
        self.optimizer.step()
        self.state = tuple(s.detach().float() for s in state)
        self.i += 1


def interleave(calls: list[Callable[[], object]], steps: int, sync: Callable[[], None]) -> list[list[float]]:
    """Seconds of each of ``steps`` calls of every callable, in rotating order (A B C, B C A, ...)."""
    times: list[list[float]] = [[] for _ in calls]
    for k in range(steps):
        for j in range(len(calls)):
            side = (k + j) % len(calls)
            sync()
            start = time.perf_counter()
            calls[side]()
            sync()
            times[side].append(time.perf_counter() - start)
    return times


def rows(options: Options) -> list[Row]:
    from seqgen.config import Config
    from seqgen.device import pick_device, use_bf16
    from seqgen.trainer import Trainer

    steps, warmup = (3, 1) if options.quick else (200, 20)
    data = token_data()
    device = pick_device(options.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    vocab = data.tokenizer.vocab_size
    with tempfile.TemporaryDirectory(prefix="seqgen-bench-") as tmp:
        config = Config(data=nanogpt_split())
        config.update({"model": {"cell": "lstm", "layers": LAYERS, "hidden": HIDDEN, "embed": EMBED, "dropout": 0.0},
                       "train": {"batch_size": BATCH, "seq_len": SEQ, "lr": LR, "grad_clip": CLIP,
                                 "device": options.device, "run_dir": tmp}})
        trainer = Trainer(config, data, echo=lambda _message: None)
        bf16 = use_bf16(config.train.precision, device)
        torch.manual_seed(0)
        bare = BareLoop(data.arrays["train"], vocab, device, bf16)
        calls = [bare.step, trainer.train_step]
        if bf16:
            calls.append(BareLoop(data.arrays["train"], vocab, device, bf16=False).step)
        for _ in range(warmup):
            for call in calls:
                call()
        times = interleave(calls, steps, sync)
    tokens = BATCH * SEQ
    bare_rate, seqgen_rate = (tokens / statistics.median(t) for t in times[:2])
    mean_ratio = sum(times[0]) / sum(times[1])
    precision = "bf16 autocast" if bf16 else "fp32"
    size = (f"lstm {LAYERS}x{HIDDEN}, embed {EMBED}, vocab {vocab}, {trainer.model.num_parameters():,} params; "
            f"batch {BATCH} x seq {SEQ}, AdamW {LR:g}, clip {CLIP:g}, dropout 0, {precision}")
    timing = f"{steps} steps each after {warmup} warm-up, rotating order; tok/s at the median step"
    reset = config.train.reset_prob
    out = [
        Row("train throughput", f"bare nn.LSTM loop; {size}", rate(bare_rate), "reference (issue: 35,865 tok/s)"),
        Row("train throughput", f"seqgen Trainer.train_step ({precision}, reset_prob {reset:g}); {timing}",
            rate(seqgen_rate), f"target >= {TARGET:g} x bare",
            f"{seqgen_rate / bare_rate:.3f} (from mean step times: {mean_ratio:.3f})"),
    ]
    if bf16:
        fp32_rate = tokens / statistics.median(times[2])
        out.append(Row("train throughput", "bare nn.LSTM loop in fp32 (what bf16 autocast gains)", rate(fp32_rate),
                       "seqgen (bf16) / this", f"{seqgen_rate / fp32_rate:.2f}"))
    return out
