"""Run configuration as plain data: dataclasses with defaults, overridden by a TOML file, then flags.

The resolved config is saved into every run directory and checkpoint, so a run can always be
reproduced and a checkpoint sampled without the flags that made it.
"""

from __future__ import annotations

import numbers
import sys
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from seqgen.errors import SeqgenError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CELLS = ("lstm", "gru", "rnn", "rnn-relu", "peephole")
PRECISIONS = ("auto", "bf16", "fp32")
INITS = ("default", "orthogonal", "xavier", "kaiming")
#: Bounds of the music codec settings: the codecs' own SIZE_LIMITS (checked again when a
#: checkpoint's tokenizer is loaded) allow these and no more.
MAX_GRID_STEPS = 120  # = 8 * 3 * 5: 32nd notes, triplets and quintuplets at once
MAX_DURATION_QUARTERS = 64
MAX_SHIFT_SECONDS = 10.0


@dataclass
class DataConfig:
    """Which corpus, how it is tokenized and split."""

    corpus: str = "shakespeare"
    tokenizer: str = ""  # empty: "char" for text corpora, "grid" for music corpora
    vocab_size: int = 1000  # subword tokenizers only
    val_frac: float = 0.05
    test_frac: float = 0.05
    encoding: str = "utf-8"
    # Music: train pieces in this many keys up and down (6: all 12 keys); 0 turns it off.
    transpose: int = 6
    # Music codec settings (saved in the tokenizer state, part of the token-cache key).
    grid_steps: int = 0  # grid: steps per quarter note (0: the corpus's own); 24 makes 32nds exact, 60 quintuplets
    max_duration: float = 16.0  # grid: longest note in quarter notes (longer ones are cut)
    max_shift: float = 1.0  # performance: longest single time shift in seconds (longer gaps take several)


@dataclass
class ModelConfig:
    """Embedding -> stacked RNN -> dropout -> linear head."""

    cell: str = "lstm"
    layers: int = 2
    hidden: int = 256
    embed: int = 64
    dropout: float = 0.1
    tie_weights: bool = False
    init: str = "default"
    vocab_size: int = 0  # filled from the tokenizer


@dataclass
class TrainConfig:
    """Optimisation, budget and bookkeeping.

    The defaults are the best LSTM settings of the 71-second trials on 2 CPU cores (see
    benchmarks/RESULTS.md; the ``cpu`` preset went on to a GRU) with a 10-minute budget and light
    dropout, since ten minutes is many epochs of a small corpus such as the Bach chorales.
    """

    batch_size: int = 64
    seq_len: int = 32
    lr: float = 1.5e-2
    weight_decay: float = 0.1
    warmup_steps: int = 50
    min_lr_frac: float = 0.0
    grad_clip: float = 1.0
    # Probability that a stream's carried state is zeroed before a batch: the model then also
    # learns to start from a fresh state, which is how sampling begins.
    reset_prob: float = 0.01
    max_steps: int = 0  # 0 = no step limit
    max_time: float = 600.0  # seconds of training (evaluation excluded); 0 = no time limit
    # The step count a time budget comes to on this machine, measured over the first steps and then
    # fixed, so the learning-rate schedule (and so a resumed run) follows steps, not the clock.
    planned_steps: int = 0
    epochs: float = 0.0  # 0 = no epoch limit
    eval_every: int = 1000
    eval_streams: int = 16
    device: str = "auto"
    # auto: bf16 autocast where the hardware computes bf16 natively (CUDA; CPUs with AVX-512 BF16
    # or AMX), fp32 elsewhere. Weights and optimizer state stay fp32 either way.
    precision: str = "auto"
    # CPU threads; 0: the cores other work leaves free, re-checked during the run (seqgen.device).
    threads: int = 0
    tensorboard: bool = False  # also write the metrics as TensorBoard events into the run directory
    seed: int = 1337
    run_dir: str = ""  # empty: checkpoints/<corpus>-<cell>-<timestamp>
    # The automatic choice of model and optimiser, and why (empty: the settings were given).
    auto: str = ""


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        config = cls()
        config.update(data)
        return config

    def update(self, values: dict[str, Any]) -> None:
        """Apply overrides given by section (``{"model": {"hidden": 256}}``) or flat by name.

        Flat names are unique across sections, so a TOML file may use either style and CLI flags
        map straight onto fields.
        """
        for key, value in values.items():
            if isinstance(value, dict) and key in SECTIONS:
                for name, item in value.items():
                    self._set(key, name, item)
            else:
                self._set(_section_of(key), key, value)

    def _set(self, section: str, name: str, value: Any) -> None:
        part = getattr(self, section)
        types = {f.name: f.type for f in fields(part)}
        if name not in types:
            raise SeqgenError(f"unknown setting {section}.{name}")
        setattr(part, name, _coerce(name, types[name], value))

    def validate(self) -> None:
        """Refuse settings that would fail later with a less helpful message."""
        d, m, t = self.data, self.model, self.train
        checks = [
            (m.cell in CELLS, f"unknown cell {m.cell!r}; choose one of {', '.join(CELLS)}"),
            (m.init in INITS, f"unknown init {m.init!r}; choose one of {', '.join(INITS)}"),
            (m.layers > 0, "layers must be at least 1"),
            (m.hidden > 0, "hidden must be at least 1"),
            (m.embed > 0, "embed must be at least 1"),
            (0 <= m.dropout < 1, "dropout must be in [0, 1)"),
            (t.batch_size > 0, "batch size must be at least 1"),
            (t.seq_len > 0, "sequence length must be at least 1"),
            (t.lr > 0, "learning rate must be positive"),
            (t.grad_clip >= 0, "grad clip must be >= 0 (0 disables it)"),
            (0 <= t.reset_prob <= 1, "reset probability must be in [0, 1]"),
            (t.max_steps >= 0 and t.max_time >= 0 and t.epochs >= 0, "budgets must be >= 0"),
            (t.max_steps or t.max_time or t.epochs, "set a budget: max steps, max time or epochs"),
            (t.eval_every > 0, "eval every must be at least 1 step"),
            (t.eval_streams > 0, "eval streams must be at least 1"),
            (t.threads >= 0, "threads must be >= 0 (0: the free cores)"),
            (t.precision in PRECISIONS, f"unknown precision {t.precision!r}; choose one of {', '.join(PRECISIONS)}"),
            (d.vocab_size > 0, "vocab size must be positive"),
            (d.transpose >= 0, "transpose must be >= 0 (0 turns augmentation off)"),
            (d.grid_steps == 0 or (d.grid_steps % 4 == 0 and 4 <= d.grid_steps <= MAX_GRID_STEPS),
             f"grid steps must be 0 (the corpus's own) or a multiple of 4 from 4 to {MAX_GRID_STEPS} (so every x/16 "
             "bar is whole steps), "
             f"got {d.grid_steps}"),
            (0 < d.max_duration <= MAX_DURATION_QUARTERS,
             f"max duration must be above 0 and at most {MAX_DURATION_QUARTERS} quarter notes"),
            (0.01 <= d.max_shift <= MAX_SHIFT_SECONDS, f"max shift must be 0.01 to {MAX_SHIFT_SECONDS:g} seconds"),
            (d.val_frac > 0 and d.test_frac >= 0 and d.val_frac + d.test_frac < 1,
             "need val fraction > 0, test fraction >= 0 and their sum < 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise SeqgenError(message)
        if m.tie_weights and m.embed != m.hidden:
            raise SeqgenError(f"--tie-weights needs embed == hidden (got {m.embed} and {m.hidden})")


SECTIONS = {f.name: f.type for f in fields(Config)}


def _section_of(name: str) -> str:
    for section, kind in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
        if name in {f.name for f in fields(kind)}:
            return section
    raise SeqgenError(f"unknown setting {name!r}")


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """TOML and flags give ints where floats are meant and vice versa; convert by field type."""
    kind = {"int": int, "float": float, "bool": bool, "str": str}.get(kind if isinstance(kind, str) else kind.__name__)
    if kind is None or isinstance(value, kind):
        return value
    # Only scalars convert: str() or int() would also accept a TOML list or a checkpoint's tensor.
    if kind is bool or isinstance(value, bool) or not isinstance(value, (str, numbers.Number)):
        raise SeqgenError(f"setting {name!r} expects a {kind.__name__}, got {value!r:.60}")
    try:
        converted = kind(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise SeqgenError(f"setting {name!r} expects a {kind.__name__}, got {value!r}") from None
    if kind is int and converted != value:
        raise SeqgenError(f"setting {name!r} expects a whole number, got {value!r}")
    return converted


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file, with a one-line error for a missing or malformed file."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SeqgenError(f"config file not found: {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SeqgenError(f"cannot read config file {path}: {err}") from None


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("seqgen.presets").iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> dict[str, Any]:
    """A preset is a TOML file shipped in ``seqgen/presets/``; users can read and copy it."""
    if name not in preset_names():
        raise SeqgenError(f"unknown preset {name!r}; presets: {', '.join(preset_names())}")
    return tomllib.loads(resources.files("seqgen.presets").joinpath(f"{name}.toml").read_text())



def resolve_config(preset: str | None = None, file: str | Path | None = None,
                   flags: dict[str, Any] | None = None) -> Config:
    """The defaults, overridden by a shipped preset, then a TOML file, then explicit flags.

    A layer that sets a step or epoch budget without a time budget means a step schedule: it turns
    off the time budget of the layers below it (otherwise the default 600 s would still count, and
    one slow early step would move the learning rate).
    """
    config = Config()
    for layer in (load_preset(preset) if preset else None, load_toml(file) if file else None, flags):
        if layer:
            train = {**layer, **layer.get("train", {})}
            if (train.get("max_steps") or train.get("epochs")) and "max_time" not in train:
                config.update({"max_time": 0.0})
            config.update(layer)
    return config
