"""``seqgen train``: every config field is a flag; presets and TOML files layer under them."""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from click.core import ParameterSource

from seqgen.cli.base import DEFAULTS, config_option, main
from seqgen.config import CELLS, INITS, PRECISIONS

d, m, t = DEFAULTS.data, DEFAULTS.model, DEFAULTS.train
#: How documents become tokens; ``seqgen corpus info`` and ``export`` take them too, so they show
#: the corpus through the codec a run with the same flags fits.
CODEC_OPTIONS = [
    config_option(d, "tokenizer", "char | bpe | unigram (text); grid | performance (music). Empty: char for text, grid for music."),
    config_option(d, "vocab_size", "Vocabulary size for bpe/unigram."),
    config_option(d, "transpose", "Music: also train on each piece moved up to N semitones down/up (0: off)."),
    config_option(d, "grid_steps", "Grid codec: steps per quarter note, a multiple of 4 up to 120 (12: 16ths "
                  "and triplets; 24: also 32nds; 60: also quintuplets); 0: the corpus's own (24 for folk, else 12)."),
    config_option(d, "max_duration", "Grid codec: longest note in quarter notes (longer ones are cut)."),
    config_option(d, "max_shift", "Performance codec: longest time-shift token in seconds."),
]
TRAIN_OPTIONS = [
    config_option(d, "corpus", "Corpus name (see `seqgen corpus list`) or a .txt/MIDI file or folder."),
    config_option(d, "val_frac", "Fraction for validation: text, its end before test; music, that share of the "
                  "pieces of each collection (seeded shuffle)."),
    config_option(d, "test_frac", "Fraction held out for testing: text, its very end; music, as for val."),
    config_option(d, "encoding", "Text encoding of .txt corpora."),
    *CODEC_OPTIONS,
    config_option(m, "cell", "Recurrent cell (peephole is a custom cell, several times slower to train).",
            type=click.Choice(CELLS)),
    config_option(m, "layers", "Stacked recurrent layers."),
    config_option(m, "hidden", "Hidden units per layer."),
    config_option(m, "embed", "Embedding size."),
    config_option(m, "dropout", "Dropout between layers and before the head."),
    config_option(m, "tie_weights", "Share embedding and output weights (needs embed == hidden)."),
    config_option(m, "init", "Initialisation of the recurrent weight matrices.", type=click.Choice(INITS)),
    config_option(t, "batch_size", "Parallel contiguous streams per batch."),
    config_option(t, "seq_len", "Time steps per batch (truncated BPTT length)."),
    config_option(t, "lr", "Peak learning rate (AdamW; warmup, then linear decay over the budget)."),
    config_option(t, "weight_decay", "AdamW weight decay."),
    config_option(t, "warmup_steps", "Linear learning-rate warmup steps."),
    config_option(t, "grad_clip", "Gradient-norm clipping (0 disables)."),
    config_option(t, "reset_prob", "Chance per stream and batch of zeroing the carried state."),
    config_option(t, "max_steps", "Stop after this many steps (0: no step limit)."),
    config_option(t, "max_time", "Stop after this many seconds of training, evaluation excluded (0: no limit)."),
    config_option(t, "epochs", "Stop after this many passes over the train split (0: no limit)."),
    config_option(t, "eval_every", "Evaluate on the whole val split (and checkpoint) every N steps."),
    config_option(t, "device", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps."),
    config_option(t, "precision", "bf16 autocast or fp32; auto: bf16 where the hardware computes it natively.",
            type=click.Choice(PRECISIONS)),
    config_option(t, "threads", "CPU threads for torch (0: the cores other work leaves free, re-checked as it runs)."),
    config_option(t, "tensorboard", "Also log the metrics for TensorBoard in the run directory "
                  "(needs: pip install 'seqgen[tensorboard]')."),
    config_option(t, "seed", "Random seed (same flags and seed give the same losses on CPU)."),
    config_option(t, "run_dir", "Run directory (default: checkpoints/<corpus>-<cell>-<time>)."),
]


def _train_options(func: Any) -> Any:
    for option in reversed(TRAIN_OPTIONS):
        func = option(func)
    return func


@main.command()
@_train_options
@click.option("--preset", default=None,
              help="A shipped preset (cpu: 71 s, cpu-10min: 10 min, gpu): a TOML file of settings.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file of settings; flags override it.")
@click.option("--resume", default=None, help="Run directory or checkpoint to continue exactly where it stopped.")
@click.option("--nproc", default=1, help="Processes for data-parallel training (relaunches under torchrun).")
@click.pass_context
def train(ctx: click.Context, preset: str | None, config_file: str | None, resume: str | None, nproc: int,
          **flags: Any) -> None:
    """Train a language model on a corpus; writes checkpoints/<run>/.

    With no --preset, --config or model flag (--cell, --layers, --hidden, --embed, --dropout, ...) the
    model and optimiser are chosen for the corpus, budget and machine, and the choice is printed;
    the defaults shown below are then replaced, except for the flags you give."""
    from seqgen.trainer import Trainer

    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from seqgen.distributed import launch

        sys.exit(launch(nproc, _without_nproc(sys.argv[1:])))

    given = {k: v for k, v in flags.items() if ctx.get_parameter_source(k) != ParameterSource.DEFAULT}
    if resume:
        trainer = Trainer.resume(resume, given, echo=click.echo)
    else:
        trainer = Trainer.fresh(preset, config_file, given, echo=click.echo)
    result = trainer.run()
    if result.main:
        click.echo(f"done: step {result.step}, best val loss {result.best_val:.4f} nats/token, "
                   f"{result.train_time:.0f} s of training; checkpoints in {result.run_dir}")


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line minus ``--nproc N`` / ``--nproc=N``, for the relaunched processes."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out
