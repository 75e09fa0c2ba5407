"""Automatic configuration: the model and optimiser a run gets when the user names no preset, no
config file and no model flag.

The choice follows from four facts: the train split's size in tokens, the vocabulary, the budget
(seconds, steps or epochs) and this machine's speed. Speed is measured once per machine (two short
training bursts, a few seconds, cached in the cache folder) as a line ``seconds per step =
overhead + cost x FLOPs``, so the step count any candidate width would reach in the budget can be
predicted without timing each one.

The rules come from the preset trials in benchmarks/RESULTS.md (tiny-shakespeare, 2 CPU cores):
- a GRU beat the LSTM per second, with batch 64, weight decay 0.1 and linear decay to zero;
- width pays only while the run still gets enough updates and sees enough tokens for its weights:
  at 71 s the 2x256 GRU (750 to 2,000 steps, 2.3-6.3 tokens per weight) beat wider ones (the
  2x320 and 2x384 LSTMs saw 1.7 and 0.9) and the 2x192 (three times, even when the 2x256 made only
  750-900 steps), at 600 s the 2x512 GRU (2.3-4.8) won, and on bach a 2x768 GRU that saw 1.2 lost
  to a 2x256 that saw 15; so the widest candidate that reaches both MIN_STEPS steps and
  TOKENS_PER_WEIGHT (as the probe predicts them) is chosen;
- a model with many more weights than train tokens memorises: the width is capped at
  PARAMS_PER_TOKEN weights per distinct train token (a piece transposed to 12 keys is not 12
  pieces: counting bach's 3.44 M augmented tokens, the cap let a 10-minute run take a 2x768 GRU,
  1,181 steps, val 0.552 nats/token, where the old LSTM 2x256 default reached 0.471 in 11,012);
- dropout grows with the epochs the budget comes to: none at ~4 epochs (the 71 s preset), 0.35 at
  ~12 (the 10-minute preset);
- a time budget that would read the train split more than MAX_EPOCHS times stops there (its
  learning rate decays over those epochs): with dropout 0.4 a longer run only overfits;
- the learning rate shrinks slowly with width (7e-3 at 256, 6e-3 at 512).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seqgen.atomic import atomic_write
from seqgen.config import Config, ModelConfig
from seqgen.model import weight_shapes
from seqgen.paths import cache_dir

if TYPE_CHECKING:
    from seqgen.dataset import TokenData

#: Widths tried, narrowest first; CPUs stop at CPU_MAX_HIDDEN when the budget gives no clock.
WIDTHS = (128, 192, 256, 384, 512, 768, 1024, 1536, 2048)
CPU_MAX_HIDDEN, GPU_MAX_HIDDEN = 512, 2048
#: Steps the chosen width must reach in a time budget, as the probe predicts them: 2x256 GRUs of
#: 747-913 steps (745 predicted) beat 2x192s of 925-1,183 at 71 s on three corpora (RESULTS.md).
MIN_STEPS = 700
#: Train tokens the budget must show each weight (steps x batch x window / weights): the widths that
#: lost saw 0.6-1.7, those that won 2.3-6.3 (RESULTS.md's trial tables).
TOKENS_PER_WEIGHT = 2.25
PARAMS_PER_TOKEN = 4.0
#: A time budget longer than this many epochs ends early. pydoc (0.42 M tokens), 2x384 GRU with
#: dropout 0.4, learning rate decayed to zero over the run: 9 epochs (300 s) val 1.191, 20 epochs
#: (30 minutes with a cap of 20) 1.219, 59 epochs (30 minutes) at best 1.241 and 1.438 at its end;
#: tiny-shakespeare's best 10-minute run (the cpu-10min preset) read 12.
MAX_EPOCHS = 12.0
BATCH, LAYERS, EMBED = 64, 2, 64
#: A cached speed line is measured again when a quick check takes under this share of its prediction.
FASTER = 0.8
#: Flags that describe the model: giving any of them means the user chooses the model.
MODEL_FLAGS = frozenset({"cell", "layers", "hidden", "embed", "dropout", "tie_weights", "init"})


def applies(preset: str | None, file: Any, flags: dict[str, Any]) -> bool:
    """Automatic configuration is the default: off with a preset, a config file or a model flag."""
    return preset is None and file is None and not MODEL_FLAGS & flags.keys()


@dataclass(frozen=True)
class Speed:
    """Seconds per training step = ``overhead`` + ``per_flop`` x FLOPs of the step."""

    overhead: float
    per_flop: float

    def seconds(self, flops: float) -> float:
        return self.overhead + self.per_flop * flops


def _model(hidden: int, vocab: int) -> ModelConfig:
    return ModelConfig(cell="gru", layers=LAYERS, hidden=hidden, embed=EMBED, vocab_size=vocab)


def weights(hidden: int, vocab: int) -> int:
    """Trainable weights of the candidate (from ``weight_shapes``, nothing allocated)."""
    return sum(math.prod(s) for s in weight_shapes(_model(hidden, vocab)).values())


def seq_len(hidden: int) -> int:
    """BPTT window: 32 steps for the small models, 64 for the wider ones (as in the presets)."""
    return 32 if hidden <= 256 else 64


def tokens_seen(hidden: int, steps: float) -> float:
    """Train tokens ``steps`` steps of the candidate read (a token read twice counts twice)."""
    return steps * BATCH * seq_len(hidden)


def step_flops(hidden: int, vocab: int) -> float:
    """Multiply-adds x 2 of one training step: forward and backward (3x the forward) over every
    weight but the embedding table, which is a lookup, for each of the batch's tokens."""
    matmul = weights(hidden, vocab) - vocab * EMBED
    return 6.0 * matmul * tokens_seen(hidden, 1)


def machine_key(device: str, autocast: bool) -> str:
    """What a speed measurement depends on: processor, cores, threads, torch, device, precision."""
    import torch

    cpu = platform.processor() or platform.machine()
    if device.startswith("cuda") and torch.cuda.is_available():
        cpu = torch.cuda.get_device_name()
    return f"{cpu}|{os.cpu_count()}|threads {torch.get_num_threads()}|torch {torch.__version__}|{device}|bf16 {autocast}"


def _time_steps(hidden: int, vocab: int, device: str, autocast: bool, steps: int = 8) -> float:
    """Seconds per training step of the candidate on random tokens: the median of ``steps`` timed
    steps after three warm-up steps (the first steps pay for allocation, and a mean of a few let one
    slow step make the machine look slower than the run will find it)."""
    import statistics

    import torch
    import torch.nn.functional as F

    from seqgen.model import LanguageModel

    model = LanguageModel(_model(hidden, vocab)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, vocab, (BATCH, seq_len(hidden) + 1), device=device)
    times = []
    for _ in range(steps + 3):
        started = time.perf_counter()
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
            logits, _ = model(x[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, vocab), x[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times[3:])


def measure_speed(device: str, autocast: bool, vocab: int) -> Speed:
    """This machine's speed line, fitted through a narrow and a wide model's step times; cached per
    ``machine_key`` in ``<cache>/speed.json`` (delete it after a hardware change). A measurement
    taken while other work loads the machine (load average above its cores) is used for this run,
    which will see that load, but not kept for later ones.

    A cached line is checked against a short timing of the narrow model (a second or two): a line
    cached in a slow spell of a shared host put 0.105 s of overhead on every step, and the 2x128 it
    then chose took 0.046 s per step in all; every later run on that machine chose too narrow a
    model. A machine found ``FASTER`` than its line is measured afresh; one found slower keeps it
    (the run's plan follows a passing slowdown)."""
    path = cache_dir() / "speed.json"
    key = machine_key(device, autocast)
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    narrow, wide = 256, 512
    if isinstance(known.get(key), list) and len(known[key]) == 2:
        cached = Speed(*map(float, known[key]))
        now = _time_steps(narrow, vocab, device, autocast, steps=4)
        if now >= FASTER * cached.seconds(step_flops(narrow, vocab)):
            return cached
    t1, t2 = (min(_time_steps(h, vocab, device, autocast) for _ in range(2)) for h in (narrow, wide))
    f1, f2 = step_flops(narrow, vocab), step_flops(wide, vocab)
    per_flop = max((t2 - t1) / (f2 - f1), 1e-15)
    speed = Speed(max(t1 - per_flop * f1, 0.0), per_flop)
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        return speed
    known[key] = [speed.overhead, speed.per_flop]
    try:
        atomic_write(path, json.dumps(known, indent=1))
    except Exception:  # a read-only cache costs the next run a few seconds, nothing more
        pass
    return speed


@dataclass(frozen=True)
class Choice:
    settings: dict[str, Any]
    steps: int
    epochs: float


def choose(train_tokens: int, vocab: int, max_time: float, max_steps: int, epochs: float,
           speed: Speed | None, gpu: bool = False, copies: int = 1) -> Choice:
    """The candidate for this corpus and budget (see the module's rules). ``speed`` is needed only
    for a time budget; without it a time budget is treated as unknown and the width is capped.
    ``copies``: versions of each train document among the ``train_tokens`` (transpositions)."""
    limit = GPU_MAX_HIDDEN if gpu else CPU_MAX_HIDDEN

    def steps_of(hidden: int, capped: bool = True) -> float:
        per_epoch = train_tokens / tokens_seen(hidden, 1)
        counts = [n for n in (max_steps, epochs * per_epoch) if n]
        if max_time and speed is not None:
            counts.append(max_time / speed.seconds(step_flops(hidden, vocab)))
        if capped and max_time and not epochs:
            counts.append(MAX_EPOCHS * per_epoch)
        return min(counts) if counts else MIN_STEPS

    timed = bool(max_time and speed is not None)
    def enough(hidden: int) -> bool:
        steps = steps_of(hidden)
        return steps >= MIN_STEPS and tokens_seen(hidden, steps) >= TOKENS_PER_WEIGHT * weights(hidden, vocab)

    fits = [h for h in WIDTHS if weights(h, vocab) <= PARAMS_PER_TOKEN * train_tokens / copies
            and (enough(h) if timed else h <= limit)]
    hidden = fits[-1] if fits else WIDTHS[0]
    steps = steps_of(hidden)
    seen = tokens_seen(hidden, steps) / max(train_tokens, 1)
    dropout = round(min(max(0.045 * (seen - 4.0), 0.0), 0.4) / 0.05) * 0.05
    lr = float(f"{7e-3 * (256 / hidden) ** 0.22:.1g}")
    settings = {"cell": "gru", "layers": LAYERS, "hidden": hidden, "embed": EMBED, "dropout": round(dropout, 2),
                "batch_size": BATCH, "seq_len": seq_len(hidden), "lr": lr, "weight_decay": 0.1,
                "warmup_steps": 50 if hidden <= 256 else 100, "min_lr_frac": 0.0}
    if steps < steps_of(hidden, capped=False):  # the epoch cap ends the run before its budget
        settings["epochs"] = MAX_EPOCHS
    return Choice(settings, round(steps), seen)


def autoconfigure(config: Config, data: TokenData, flags: dict[str, Any], echo: Callable[[str], None] = print) -> None:
    """Fill ``config`` with the automatic choice for ``data``'s train split, leaving every setting
    in ``flags`` as given; the one-line reason is printed and kept in ``config.train.auto``."""
    from seqgen.device import ThreadShare, pick_device, use_bf16

    t = config.train
    device = pick_device(t.device)
    train_tokens, vocab = len(data.arrays["train"]), data.tokenizer.vocab_size
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1  # ranks must agree: no timing race
    speed = None
    if t.max_time and not distributed:
        # Timed on the threads the run will start with (a user's --threads, or the cores other work
        # leaves free): a probe on both cores of a shared machine chose for a run that got one.
        share = ThreadShare(t.threads) if device.type == "cpu" else None
        try:
            speed = measure_speed(str(device), use_bf16(t.precision, device), vocab)
        finally:
            if share:
                share.close()
    choice = choose(train_tokens, vocab, t.max_time, t.max_steps, t.epochs, speed, device.type == "cuda",
                    data.copies)
    budget = " and ".join(part for part in (f"{t.max_time:g} s" if t.max_time else "", f"{t.max_steps} steps"
                                            if t.max_steps else "", f"{t.epochs:g} epochs" if t.epochs else "") if part)
    config.update({k: v for k, v in choice.settings.items() if k not in flags})
    m = config.model
    distinct = f" ({train_tokens / data.copies / 1e6:.2f} M distinct, in {data.copies} keys)" * (data.copies > 1)
    t.auto = (f"auto: {m.cell.upper()} {m.layers}x{m.hidden}, dropout {m.dropout:g}, batch {t.batch_size} x "
              f"{t.seq_len}, lr {t.lr:g} for {train_tokens / 1e6:.2f} M train tokens{distinct} and {budget} on this "
              "machine "
              f"(about {choice.steps:,} steps, {choice.epochs:.1f} epochs)"
              + ("; it stops there, since more epochs would overfit" if t.epochs and "epochs" not in flags else ""))
    echo(t.auto)
