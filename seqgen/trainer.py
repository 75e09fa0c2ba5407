"""Training: truncated BPTT with carried state, AdamW, warmup + linear decay over the budget.

The budget is steps, seconds of training or epochs, whichever ends first; the learning rate
follows the same progress, so a time-limited run still anneals fully. A time budget becomes a step
count once the first steps have measured this machine's speed (``planned_steps``, stored in the
config), so the schedule never follows the clock. Everything needed to continue exactly (weights,
optimizer, step, planned steps, RNG states, carried hidden state) goes into ``last.pt``, so an
interrupted and resumed run ends with the same weights as one that was not.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from seqgen.batches import BPTTBatches
from seqgen.checkpoint import Checkpoint
from seqgen import autoconfig
from seqgen.config import Config, TrainConfig, resolve_config
from seqgen.corpus import load_corpus
from seqgen.dataset import TokenData, prepare, prepare_matching
from seqgen.board import Board
from seqgen.device import ThreadShare, pick_device, use_bf16
from seqgen.distributed import agree, agree_max, barrier, gather_rows, init_world, shutdown
from seqgen.errors import SeqgenError
from seqgen.scoring import total_nll
from seqgen.model import LanguageModel, State
from seqgen.plots import plot_loss_curve
from seqgen.run_dir import RunDir, new_run_path


class Interrupted(SeqgenError):
    """Training stopped by SIGINT/SIGTERM after saving ``last.pt``; carries the signal number."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    best_val: float
    train_time: float
    main: bool = True  # False on the other ranks of a distributed run, which stay quiet


def learning_rate(t: TrainConfig, step: int, progress: float) -> float:
    """Linear warmup over ``warmup_steps``, then linear decay to ``min_lr_frac`` x peak at progress 1.

    Decaying linearly to zero beat cosine decay to 10% by 0.02 nats/char in the 71-second trials
    (benchmarks/RESULTS.md): the last stretch of a short budget gains most from a small step size.
    """
    warm = min(1.0, (step + 1) / max(1, t.warmup_steps))
    return t.lr * warm * (1 - (1 - t.min_lr_frac) * min(1.0, progress))


#: A time budget is turned into a step count from the speed of PLAN_STEPS steps, or of this share of
#: the budget if that comes first (a slow model), timed after the first SETTLE steps of a process
#: (which pay for allocation and kernel selection). The steps before are warm-up, where progress
#: does not matter.
SETTLE, PLAN_STEPS, PLAN_SHARE = 10, 200, 0.1
#: A run whose steps became much slower than measured (a busy machine) still stops at this many
#: times its time budget.
OVERRUN = 1.5
#: Every CHECK_STEPS steps a plan moves to the steps the mean speed since timing began fits, if
#: more than SHIFT times more or fewer: slow first steps would leave budget unused, and a machine
#: that slows later would overrun (bach at 10 minutes ran 790 s) or stop unannealed at OVERRUN.
CHECK_STEPS, SHIFT = 500, 1.05


def progress(t: TrainConfig, step: int, elapsed: float, steps_per_epoch: int) -> float:
    """Fraction of the budget used: the largest over the budgets that are set. Until a time
    budget's step count is planned, the time budget only ends a run that has used it up."""
    parts = [0.0]
    if t.max_steps:
        parts.append(step / t.max_steps)
    if t.epochs:
        parts.append(step / (t.epochs * steps_per_epoch))
    if t.max_time:
        parts.append(step / t.planned_steps if t.planned_steps else float(elapsed >= t.max_time))
        parts.append(float(elapsed >= OVERRUN * t.max_time))
    return max(parts)


@dataclass
class SpeedClock:
    """Times steps to turn a time budget into a step count (``planned_steps``)."""

    first_step: int  # where this process started
    start: tuple[int, float] | None = None  # (step, training time) where timing began

    def tick(self, t: TrainConfig, step: int, elapsed: float) -> bool:
        """Record a finished step; True once the budget needs planning and enough is timed, or
        when a plan should move (see CHECK_STEPS)."""
        if not t.max_time:
            return False
        if self.start is None:
            if step - self.first_step >= SETTLE:
                self.start = (step, elapsed)
            return False
        steps, seconds = step - self.start[0], elapsed - self.start[1]
        if t.planned_steps:  # the plan is computed only on check steps
            return steps % CHECK_STEPS == 0 and not 1 / SHIFT <= self.plan(t, step, elapsed) / t.planned_steps <= SHIFT
        return steps >= PLAN_STEPS or seconds >= PLAN_SHARE * t.max_time

    def plan(self, t: TrainConfig, step: int, elapsed: float) -> int:
        """The budget's step count: the steps done plus the time left at the measured speed."""
        assert self.start is not None
        rate = (step - self.start[0]) / max(elapsed - self.start[1], 1e-9)
        return step + max(1, round((t.max_time - elapsed) * rate))


@contextmanager
def catch_signals() -> Iterator[list[int]]:
    """Turn SIGINT/SIGTERM into a flag the loop checks between steps (so it can save first)."""
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Trainer:
    """One training run. ``Trainer(config).run()`` or ``Trainer.resume(path).run()``."""

    def __init__(self, config: Config, data: TokenData | None = None, echo: Callable[[str], None] = print,
                 progress: bool = True) -> None:
        """``echo`` receives every message; ``progress`` shows a tqdm bar (on a terminal)."""
        config.validate()
        self.config, self.echo, self.progress = config, echo, progress
        t = config.train
        if data is None:
            data = prepare(load_corpus(config.data.corpus, config.data.encoding), config.data)
        self.data = data
        config.model.vocab_size = data.tokenizer.vocab_size
        self.device = pick_device(t.device)
        self.world = init_world(self.device.type)
        if self.world.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.world.local_rank)
        if not self.world.main:
            self.echo = lambda _message: None
        self.autocast = use_bf16(t.precision, self.device)
        torch.manual_seed(t.seed)
        self.model = LanguageModel(config.model).to(self.device)
        # Gradients are averaged across ranks by DDP; evaluation and checkpoints use self.model.
        self.forward = (torch.nn.parallel.DistributedDataParallel(self.model) if self.world.active
                        else self.model)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=t.lr, weight_decay=t.weight_decay,
                                           betas=(0.9, 0.99))
        self.rows = self.world.rows(t.batch_size)
        self.batches = BPTTBatches(data.arrays["train"], t.batch_size, t.seq_len, self.rows)
        self.reset_rng = torch.Generator().manual_seed(t.seed + 1)
        self.state: State = self.model.init_state(self.rows.stop - self.rows.start, self.device)
        self.step, self.train_time, self.best_val = 0, 0.0, math.inf
        self.board: Board | None = None
        self.steps_per_s = 0.0  # over the last logging window: a starved run shows it
        self.run_dir = Path(t.run_dir) if t.run_dir else new_run_path(config.data.corpus, config.model.cell)
        if len(data.arrays["val"]) < 2:
            raise SeqgenError(f"the val split of {data.corpus_name!r} is too small to evaluate; raise --val-frac")

    @classmethod
    def fresh(cls, preset: str | None = None, file: str | None = None, flags: dict[str, Any] | None = None,
              echo: Callable[[str], None] = print, progress: bool = True) -> Trainer:
        """A new run with settings resolved as ``resolve_config`` does. With no preset, config file
        or model flag, the model and optimiser are chosen for this corpus, budget and machine
        (``seqgen.autoconfig``); flags still win over the choice."""
        flags = flags or {}
        config = resolve_config(preset, file, flags)
        if not autoconfig.applies(preset, file, flags):
            return cls(config, echo=echo, progress=progress)
        config.validate()
        data = prepare(load_corpus(config.data.corpus, config.data.encoding), config.data)
        autoconfig.autoconfigure(config, data, flags, echo)
        return cls(config, data, echo=echo, progress=progress)

    @classmethod
    def resume(cls, spec: str, overrides: dict[str, Any] | None = None, echo: Callable[[str], None] = print,
               progress: bool = True) -> Trainer:
        """Continue a run from its ``last.pt`` (or a given checkpoint) exactly where it stopped.

        ``overrides`` may change the budget and bookkeeping (e.g. a larger ``max_steps``), not the
        model or data, which must match the checkpoint.
        """
        ckpt = Checkpoint.load(spec, name="last.pt")
        if not ckpt.resumable:
            raise SeqgenError(f"{ckpt.path} holds no training state to resume from")
        config = ckpt.validate()
        config.train.run_dir = str(ckpt.path.parent)
        if "max_time" in (overrides or {}):
            config.train.planned_steps = 0  # a new time budget is planned afresh
        config.update(overrides or {})
        trainer = cls(config, prepare_matching(config.data, ckpt.tokenizer), echo=echo, progress=progress)
        trainer.model.load_state_dict(ckpt.model)
        trainer.optimizer.load_state_dict(ckpt.optimizer)
        trainer.step, trainer.train_time, trainer.best_val = ckpt.step, ckpt.train_time, ckpt.best_val
        torch.set_rng_state(ckpt.rng["torch"])
        trainer.reset_rng.set_state(ckpt.rng["reset"])
        if "cuda" in ckpt.rng and torch.cuda.is_available():
            torch.cuda.set_rng_state(ckpt.rng["cuda"])
        trainer.state = tuple(s[:, trainer.rows].to(trainer.device) for s in ckpt.state)
        echo(f"resuming {ckpt.path} at step {trainer.step}")
        return trainer

    def checkpoint(self) -> Checkpoint:
        """Everything needed to sample from this run and to continue it exactly."""
        rng = {"torch": torch.get_rng_state(), "reset": self.reset_rng.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state()
        return Checkpoint(
            config=self.config.to_dict(), tokenizer=self.data.tokenizer.state_dict(), model=self.model.state_dict(),
            corpus=self.data.corpus_name, domain=self.data.domain, step=self.step, train_time=self.train_time,
            best_val=self.best_val, optimizer=self.optimizer.state_dict(), rng=rng,
            state=tuple(gather_rows(s.detach(), self.world).cpu() for s in self.state),
        )

    def evaluate(self, split: str = "val") -> float:
        nll, count = total_nll(self.model, self.data.arrays[split], self.config.train.eval_streams,
                               self.device, self.autocast)
        return nll / count

    def train_step(self) -> float:
        """One optimizer step on the next batch; returns its loss (nats/token)."""
        t = self.config.train
        x, y = self.batches[self.step]
        if self.device.type == "cuda":  # page-locked copies let the upload overlap the previous step
            x, y = x.pin_memory(), y.pin_memory()
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.batches.starts_epoch(self.step):
            self.state = tuple(torch.zeros_like(s) for s in self.state)
        elif t.reset_prob:  # drawn for the global batch so any number of ranks resets the same streams
            keep = (torch.rand(t.batch_size, generator=self.reset_rng) >= t.reset_prob).float()[self.rows]
            self.state = tuple(s * keep.to(self.device)[None, :, None] for s in self.state)
        lr = learning_rate(t, self.step, progress(t, self.step, self.train_time, self.batches.steps_per_epoch))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits, state = self.forward(x, self.state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip)
        self.state = tuple(s.detach().float() for s in state)
        value = loss.item()
        if agree([not math.isfinite(value)], self.world)[0]:
            raise self._diverged(f"loss became {value}")
        self.optimizer.step()
        self.step += 1
        return value

    def finished(self) -> bool:
        return progress(self.config.train, self.step, self.train_time, self.batches.steps_per_epoch) >= 1

    def run(self) -> TrainResult:
        """Train until the budget is used up; the process group (if any) is left afterwards."""
        # CPU threads: the free cores, re-checked as the run goes (other work comes and goes).
        threads = ThreadShare(self.config.train.threads) if self.device.type == "cpu" else None
        try:
            return self._run(threads)
        finally:
            if threads:
                threads.close()
            if self.board:
                self.board.close()
            shutdown(self.world)

    def _run(self, threads: ThreadShare | None) -> TrainResult:
        t = self.config.train
        cpu = f" ({threads.threads} thread{'s' * (threads.threads > 1)})" if threads else ""
        self.echo(f"model: {self.config.model.cell} {self.config.model.layers}x{self.config.model.hidden}, "
                  f"{self.model.num_parameters():,} parameters, vocab {self.config.model.vocab_size}, "
                  f"device {self.device}{cpu}; run directory {self.run_dir}")
        tokens_per_step = t.batch_size * t.seq_len
        main = self.world.main
        with RunDir(self.run_dir) if main else nullcontext() as run, catch_signals() as caught:
            if main:
                run.write_config(self.config.to_dict())
                run.truncate_metrics(after_step=self.step)  # rows logged after the checkpoint resumed from
                self.board = Board(run.path) if t.tensorboard else None
            bar = tqdm(total=1000, initial=int(1000 * min(1.0, self._progress())), unit="‰", dynamic_ncols=True,
                       bar_format="{l_bar}{bar}| {elapsed}<{remaining}{postfix}", disable=not (main and self.progress) or None)
            losses: list[float] = []
            evaluated_at = -1
            clock = SpeedClock(self.step)
            window = (self.step, self.train_time)  # where the current logging window began
            while True:
                # Decided together, so that every rank stops (and checkpoints) at the same step.
                interrupted, done, plan = agree(
                    [bool(caught), self.finished(), clock.tick(t, self.step, self.train_time)], self.world)
                if plan:
                    self._plan(run, clock.plan(t, self.step, self.train_time))
                if interrupted:
                    self._save(run, ["last.pt"])
                    bar.close()
                    raise Interrupted(f"interrupted at step {self.step}; saved {self.run_dir / 'last.pt'} "
                                      f"(continue with: seqgen train --resume {self.run_dir})", caught[0])
                if done:
                    if evaluated_at != self.step:
                        self._eval_and_save(run, bar)
                    break
                start = time.perf_counter()
                losses.append(self.train_step())
                self.train_time += time.perf_counter() - start
                changed = threads.check(self.train_time) if threads else None
                if changed:
                    (self.echo if bar.disable else bar.write)(f"step {self.step}: {changed}")
                if self.step % 10 == 0 and main:
                    mean = sum(losses) / len(losses)
                    self.steps_per_s = (self.step - window[0]) / max(self.train_time - window[1], 1e-9)
                    window = (self.step, self.train_time)
                    self._log(run, {"step": self.step, "time": round(self.train_time, 3), "train_loss": mean,
                                    "lr": self.optimizer.param_groups[0]["lr"], "steps_per_s": round(self.steps_per_s, 3)})
                    bar.set_postfix_str(f"step {self.step} loss {mean:.3f} {self.steps_per_s:,.1f} steps/s "
                                        f"{tokens_per_step * self.steps_per_s:,.0f} tok/s", refresh=False)
                    losses.clear()
                bar.update(int(1000 * min(1.0, self._progress())) - bar.n)
                if self.step % t.eval_every == 0:
                    self._eval_and_save(run, bar)
                    evaluated_at = self.step
            bar.close()
        return TrainResult(self.run_dir, self.step, self.best_val, self.train_time, self.world.main)

    def _plan(self, run: RunDir | None, planned: int) -> None:
        """Fix a time budget's step count (the largest any rank measured, so all stop together)
        and record it in the config, which every checkpoint carries."""
        t = self.config.train
        t.planned_steps = int(agree_max(planned, self.world))
        self.echo(f"time budget {t.max_time:g} s: {t.planned_steps} steps at the speed measured up to step {self.step}")
        if run is not None:
            run.write_config(self.config.to_dict())

    def _progress(self) -> float:
        return progress(self.config.train, self.step, self.train_time, self.batches.steps_per_epoch)

    def _eval_and_save(self, run: RunDir | None, bar: tqdm) -> None:
        """Evaluate on rank 0 and write checkpoints there; other ranks only help gather state."""
        names = ["last.pt"]
        val = self.evaluate() if run is not None else 0.0
        if agree([not math.isfinite(val)], self.world)[0]:
            raise self._diverged(f"validation loss became {val}")
        if run is not None:
            if val < self.best_val:
                names.append("best.pt")
            self.best_val = min(self.best_val, val)
            units = self.data.units["val"]
            row = {"step": self.step, "time": round(self.train_time, 3), "val_loss": val}
            per_unit = val * len(self.data.arrays["val"])  # total nats, spread over the split's units
            if units.get("chars"):
                row["val_bpc"] = per_unit / units["chars"] / math.log(2)
            if units.get("quarters"):
                row["val_npq"] = per_unit / units["quarters"]
            self._log(run, row)
            say = self.echo if bar.disable else bar.write  # under a live bar, a line must not break it
            say(f"step {self.step}: val loss {val:.4f} nats/token"
                + (f", {row['val_bpc']:.4f} bits/char" if "val_bpc" in row else "")
                + (f", {row['val_npq']:.4f} nats/quarter" if "val_npq" in row else "")
                + (" (best)" if "best.pt" in names else "")
                + (f"; {self.steps_per_s:,.1f} steps/s" if self.steps_per_s else ""))
        self._save(run, names)
        if run is not None:
            plot_loss_curve(run.metrics, run.path / "loss.png")
        barrier(self.world)

    def _log(self, run: RunDir, row: dict[str, Any]) -> None:
        """A metrics row to the run's log, and to TensorBoard when asked for."""
        run.log(row)
        if self.board:
            self.board.log(row)

    def _diverged(self, what: str) -> SeqgenError:
        """The error for a run whose numbers stopped being finite: nothing more is saved, so the
        last checkpoint on disk stays the last good one."""
        last = self.run_dir / "last.pt"
        kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint had been saved yet"
        return SeqgenError(f"{what} at step {self.step}; stopped without saving it ({kept}); "
                           "try a lower --lr or a --grad-clip")

    def _save(self, run: RunDir | None, names: list[str]) -> None:
        """Write checkpoints on rank 0, never with weights that are not finite."""
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            raise self._diverged("the weights became infinite or NaN")
        checkpoint = self.checkpoint()  # every rank takes part: the carried state is gathered
        if run is not None:
            for name in names:
                checkpoint.save(run.path / name)
