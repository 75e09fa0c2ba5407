"""The ``seqgen`` command: a thin click shell over library functions.

Each command parses its options, calls one library function and prints. Library failures are
``SeqgenError``s, printed as one ``Error: ...`` line with exit code 1 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from seqgen.config import CELLS, INITS, PRECISIONS, Config
from seqgen.errors import SeqgenError

DEFAULTS = Config()


def _option(section: Any, name: str, help: str, **kwargs: Any) -> Any:
    """A click option whose default and type come from the config dataclass field ``name``."""
    default = getattr(section, name)
    flag = "--" + name.replace("_", "-")
    if isinstance(default, bool):
        flag = f"{flag}/--no-{flag[2:]}"
    return click.option(flag, name, default=default, show_default=True, help=help, **kwargs)


class SeqgenGroup(click.Group):
    """Turns SeqgenError into one line on stderr and exit code 1 (bad flags: one line, code 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as err:  # bad option value: one line too, with click's exit code 2
            hint = f" (see: seqgen {err.ctx.info_name} --help)" if err.ctx and err.ctx.parent else ""
            click.echo(f"Error: {err.format_message()}{hint}", err=True)
            sys.exit(err.exit_code)
        except SeqgenError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {err}", err=True)
            signum = getattr(err, "signum", None)
            sys.exit(128 + signum if signum else 1)


@click.group(cls=SeqgenGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="seqgen")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Learn from sequences (text, music) and generate new ones."""
    ctx.obj = {"debug": debug}


d, m, t = DEFAULTS.data, DEFAULTS.model, DEFAULTS.train
TRAIN_OPTIONS = [
    _option(d, "corpus", "Corpus name (see `seqgen corpus list`) or a .txt/MIDI file or folder."),
    _option(d, "tokenizer", "char | bpe | unigram (text); grid | performance (music). Empty: char for text, grid for music."),
    _option(d, "vocab_size", "Vocabulary size for bpe/unigram."),
    _option(d, "val_frac", "Fraction of the corpus (its end, before test) used for validation."),
    _option(d, "test_frac", "Fraction of the corpus (its very end) held out for testing."),
    _option(d, "encoding", "Text encoding of .txt corpora."),
    _option(d, "transpose", "Music: also train on each piece moved up to N semitones down/up (0: off)."),
    _option(m, "cell", "Recurrent cell (peephole is a custom cell, several times slower to train).",
            type=click.Choice(CELLS)),
    _option(m, "layers", "Stacked recurrent layers."),
    _option(m, "hidden", "Hidden units per layer."),
    _option(m, "embed", "Embedding size."),
    _option(m, "dropout", "Dropout between layers and before the head."),
    _option(m, "tie_weights", "Share embedding and output weights (needs embed == hidden)."),
    _option(m, "init", "Initialisation of the recurrent weight matrices.", type=click.Choice(INITS)),
    _option(t, "batch_size", "Parallel contiguous streams per batch."),
    _option(t, "seq_len", "Time steps per batch (truncated BPTT length)."),
    _option(t, "lr", "Peak learning rate (AdamW; warmup, then linear decay over the budget)."),
    _option(t, "weight_decay", "AdamW weight decay."),
    _option(t, "warmup_steps", "Linear learning-rate warmup steps."),
    _option(t, "grad_clip", "Gradient-norm clipping (0 disables)."),
    _option(t, "reset_prob", "Chance per stream and batch of zeroing the carried state."),
    _option(t, "max_steps", "Stop after this many steps (0: no step limit)."),
    _option(t, "max_time", "Stop after this many seconds of training, evaluation excluded (0: no limit)."),
    _option(t, "epochs", "Stop after this many passes over the train split (0: no limit)."),
    _option(t, "eval_every", "Evaluate on the whole val split (and checkpoint) every N steps."),
    _option(t, "device", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps."),
    _option(t, "precision", "bf16 autocast or fp32; auto: bf16 where the hardware computes it natively.",
            type=click.Choice(PRECISIONS)),
    _option(t, "seed", "Random seed (same flags and seed give the same losses on CPU)."),
    _option(t, "run_dir", "Run directory (default: checkpoints/<corpus>-<cell>-<time>)."),
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
    """Train a language model on a corpus; writes checkpoints/<run>/."""
    from seqgen.config import resolve_config
    from seqgen.trainer import Trainer

    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from seqgen.distributed import launch

        sys.exit(launch(nproc, _without_nproc(sys.argv[1:])))

    given = {k: v for k, v in flags.items() if ctx.get_parameter_source(k) != ParameterSource.DEFAULT}
    if resume:
        trainer = Trainer.resume(resume, given, echo=click.echo)
    else:
        trainer = Trainer(resolve_config(preset, config_file, given), echo=click.echo)
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


@main.command()
@click.option("--checkpoint", default=None, help="Checkpoint file or run directory (default: newest run's best.pt).")
@click.option("--seed", default="", help='Text to start from; for music, note names such as "C4 E4 G4".')
@click.option("--length", type=int, default=None,
              help="Tokens to generate [default: 1000 for text; music: 16 bars] (music: an upper bound with --bars/--seconds).")
@click.option("--temperature", default=1.0, help="Sampling temperature (0 = greedy).")
@click.option("--top-k", default=0, help="Sample only among the k likeliest tokens (0 = all).")
@click.option("--top-p", default=1.0, help="Nucleus sampling: smallest set reaching this probability.")
@click.option("--num-samples", default=1, help="Samples to generate (as one batch).")
@click.option("--stop", default="", help="Text: end a sample after it generates this string.")
@click.option("--random-seed", type=int, default=None, help="Seed for reproducible samples.")
@click.option("--primer", type=click.Path(dir_okay=False), default=None,
              help="Music: a MIDI/MusicXML/ABC file whose music the sample continues.")
@click.option("--bars", default=0.0, help="Music: length in bars (0: use --length); with --primer, bars after it.")
@click.option("--seconds", default=0.0, help="Music: length in seconds (0: use --length); with --primer, after it.")
@click.option("--only-new", is_flag=True,
              help="Music: write only the continuation of --primer, starting at bar 1, with the primer's tempo, "
                   "meter, key and tracks.")
@click.option("--tempo", type=float, default=None,
              help="Music: tempo of the output in quarter notes per minute (20-300; default: the primer's or the "
                   "model's). Only the file's tempo changes: the model is not conditioned on it.")
@click.option("--out", type=click.Path(dir_okay=False), multiple=True,
              help="Output file: .txt for text; .mid, .musicxml, .wav or .png for music (repeatable).")
def sample(checkpoint: str | None, seed: str, length: int | None, temperature: float, top_k: int, top_p: float,
           num_samples: int, stop: str, random_seed: int | None, primer: str | None, bars: float, seconds: float,
           only_new: bool, tempo: float | None, out: tuple[str, ...]) -> None:
    """Generate from a trained checkpoint: text streams to stdout, music goes to --out files."""
    import torch

    from seqgen.api import Generator
    from seqgen.generate import SampleRequest
    from seqgen.sampler import SamplingSettings, threads_for

    request = SampleRequest(seed, length, num_samples, stop, random_seed, SamplingSettings(temperature, top_k, top_p),
                            bars, seconds, primer, only_new, tempo)
    generator = Generator.load(checkpoint)
    torch.set_num_threads(threads_for(num_samples))  # this process is ours: the global count is ours to set
    if generator.domain == "music":
        _sample_music(generator, request, out)
    else:
        _sample_text(generator, request, out)


def _sample_text(generator: Any, request: Any, out: tuple[str, ...]) -> None:
    from seqgen.atomic import atomic_write

    if len(out) > 1 or any(Path(o).suffix.lower() not in ("", ".txt", ".md") for o in out):
        raise SeqgenError("this checkpoint generates text: give one --out FILE.txt, or none for stdout")
    stream = request.num_samples == 1 and not out

    def show(_index: int, piece: str) -> None:
        if stream:
            click.echo(piece, nl=False)
            sys.stdout.flush()

    texts = generator.generate(request, show)
    if stream:
        click.echo()
        return
    several = request.num_samples > 1
    joined = "\n\n".join(f"--- sample {i + 1} ---\n{text}" if several else text for i, text in enumerate(texts))
    if out:
        atomic_write(Path(out[0]), joined + "\n")
        click.echo(f"wrote {out[0]}", err=True)
    else:
        click.echo(joined)


def _sample_music(generator: Any, request: Any, out: tuple[str, ...]) -> None:
    from seqgen.music.writers import write_music

    pieces = generator.generate(request)
    if not out:  # no file asked for: show the events a person can read
        tokenizer = generator.tokenizer
        for piece in pieces:
            click.echo(" ".join(tokenizer.to_names(tokenizer.encode(piece))))
        click.echo("(pass --out FILE.mid to write MIDI)", err=True)
        return
    for index, piece in enumerate(pieces, 1):
        summary = _written_summary(piece)
        for path in map(Path, out):
            target = path.with_name(f"{path.stem}-{index}{path.suffix}") if len(pieces) > 1 else path
            write_music(piece, target)
            click.echo(f"wrote {target} ({summary})", err=True)


def _written_summary(piece: Any) -> str:
    """Tracks and notes as the MIDI writer writes them (after it drops duplicate and empty ones,
    so the counts match what a DAW shows), bars begun, key and tempo."""
    from seqgen.music.midi_io import piece_to_midi
    from seqgen.music.writers import bar_lines

    instruments = piece_to_midi(piece).instruments
    notes = sum(len(i.notes) for i in instruments)
    bars = sum(1 for q in bar_lines(piece) if q < piece.end - 1e-9)
    key = f", key {piece.key}" if piece.key else ""
    return f"{len(instruments)} tracks, {notes} notes, {bars} bars{key}, {piece.tempo_qpm:g} qpm"


@main.command(name="eval")
@click.option("--checkpoint", default=None, help="Checkpoint file or run directory (default: newest run's best.pt).")
@click.option("--split", type=click.Choice(["val", "test", "train"]), default="val", help="Split to evaluate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--samples", default=8, help="Music: samples to generate and compare with the split's statistics (0: none).")
def evaluate(checkpoint: str | None, split: str, as_json: bool, device: str, samples: int) -> None:
    """Total NLL, nats/token, bits/char (or nats per note/beat/second) and perplexity over a whole
    split; for music, also statistics of generated samples next to the split's."""
    from seqgen.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(checkpoint, split, device, samples)
    if as_json:
        click.echo(json.dumps(result))
        return
    stats = result.pop("sample_stats", None)
    _print_table(result)
    if stats:
        click.echo(f"\n{'statistic':>24}  {'samples':>12}  {split:>12}")
        for key, value in stats["samples"].items():
            click.echo(f"{key:>24}  {_fmt(value):>12}  {_fmt(stats['reference'].get(key, '')):>12}")


def _fmt(value: Any) -> str:
    return f"{value:,.3f}" if isinstance(value, float) else str(value)


def _print_table(facts: dict[str, Any]) -> None:
    """One ``key  value`` line per fact, keys right-aligned, numbers with thousands separators."""
    for key, value in facts.items():
        shown = f"{value:,.4f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        click.echo(f"{key:>16}  {shown}")


@main.group()
def corpus() -> None:
    """Inspect corpora."""


@corpus.command(name="list")
def corpus_list() -> None:
    """Named corpora (any .txt/MIDI/MusicXML file or folder path works too)."""
    from seqgen.corpus import list_corpora

    for name, description in list_corpora().items():
        click.echo(f"{name:<16} {description}")


@corpus.command(name="info")
@click.argument("name")
@click.option("--encoding", default="utf-8", help="Text encoding of .txt corpora.")
@click.option("--val-frac", default=DEFAULTS.data.val_frac, help="Validation fraction for the split sizes.")
@click.option("--test-frac", default=DEFAULTS.data.test_frac, help="Test fraction for the split sizes.")
def corpus_info(name: str, encoding: str, val_frac: float, test_frac: float) -> None:
    """Documents, size, split sizes and vocabulary of a corpus."""
    from seqgen.corpus import corpus_info

    _print_table(corpus_info(name, encoding, val_frac, test_frac))


@main.command()
@click.option("--port", default=8000, help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", help="Address to bind; the default serves this machine only.")
@click.option("--checkpoints", default="checkpoints", help="Folder whose run directories are offered.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also accept requests addressed to NAME (a host name or address others reach this "
                   "server by; repeatable). Other Host headers are refused, against DNS rebinding.")
def serve(port: int, host: str, checkpoints: str, allow_hosts: tuple[str, ...]) -> None:
    """A local web playground: pick a run, generate text or music, see and hear it."""
    from seqgen.serve import serve as run_server

    run_server(checkpoints, host, port, echo=click.echo, allow_hosts=allow_hosts)
