"""``seqgen sample``: text streams to stdout, music goes to files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from seqgen.cli.base import main
from seqgen.errors import SeqgenError

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
              help="Music: tempo of the output in quarter notes per minute (20-300, written exactly; default: the "
                   "primer's or the corpus's usual one). The model is fed the nearest tempo it knows.")
@click.option("--keep", type=int, default=None,
              help="Keep the best this many of --num-samples (see --rank); each kept sample's score goes to stderr.")
@click.option("--rank", type=click.Choice(["likelihood", "novelty", "balanced"]), default=None,
              help="How --keep picks: likelihood (lowest nats/token), novelty (shortest passage copied from the "
                   "training split) or balanced (best sum of both places) [default: likelihood].")
@click.option("--key", default=None,
              help='Music: a key such as "E minor" or "Bb major": no pitch outside it is drawn, and it is the key '
                   "signature (minor allows natural, harmonic and melodic forms; \"E natural minor\" just one).")
@click.option("--time-signature", default=None, help="Music: the meter of every bar, e.g. 3/4 (one the model knows).")
@click.option("--loop", is_flag=True,
              help="Music: loops of exactly --bars bars, the best of 4x as many by how their end leads back to bar 1.")
@click.option("--free-voice-leading", is_flag=True,
              help="Music: let voices that sing one note at a time move in parallel fifths and octaves and cross "
                   "each other (by default the grammar refuses the pitch that would).")
@click.option("--device", default="auto",
              help="auto (a CUDA GPU for models of 1024+ hidden units, else the CPU), cpu, cuda or cuda:N.")
@click.option("--out", type=click.Path(dir_okay=False), multiple=True,
              help="Output file: .txt for text; .mid, .musicxml, .wav or .png for music (repeatable).")
def sample(checkpoint: str | None, seed: str, length: int | None, temperature: float, top_k: int, top_p: float,
           num_samples: int, stop: str, random_seed: int | None, primer: str | None, bars: float, seconds: float,
           only_new: bool, tempo: float | None, keep: int | None, rank: str | None, key: str | None,
           time_signature: str | None, loop: bool, free_voice_leading: bool, device: str,
           out: tuple[str, ...]) -> None:
    """Generate from a trained checkpoint: text streams to stdout, music goes to --out files."""
    import torch

    from seqgen.api import Generator
    from seqgen.generate import SampleRequest
    from seqgen.sampler import SamplingSettings, threads_for

    request = SampleRequest(seed, length, num_samples, stop, random_seed, SamplingSettings(temperature, top_k, top_p),
                            bars, seconds, primer, only_new, tempo, keep, rank, key, time_signature, loop,
                            free_voice_leading, device)
    # This process is ours: the global count is ours to set, before loading (on a busy machine
    # even the load's checks run faster on the threads chosen).
    torch.set_num_threads(threads_for(num_samples))
    generator = Generator.load(checkpoint)
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

    texts = [text for text, _score in _ranked(generator, request, show)]
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
    from seqgen.music.written import written_summary

    pieces = [piece for piece, _score in _ranked(generator, request)]
    copied = _copied_from_training(generator)
    if not out:  # no file asked for: show the events a person can read
        tokenizer = generator.tokenizer
        for index, piece in enumerate(pieces, 1):
            click.echo(" ".join(tokenizer.to_names(tokenizer.encode(piece))))
            click.echo(f"sample {index}: {written_summary(piece)}{copied(piece)}", err=True)
        click.echo("(pass --out FILE.mid to write MIDI)", err=True)
        return
    for index, piece in enumerate(pieces, 1):
        targets = [path.with_name(f"{path.stem}-{index}{path.suffix}") if len(pieces) > 1 else path
                   for path in map(Path, out)]
        for target in targets:
            write_music(piece, target)
        click.echo(f"wrote {', '.join(map(str, targets))} ({written_summary(piece)}{copied(piece)})", err=True)


def _ranked(generator: Any, request: Any, show: Any = None) -> list[tuple[Any, Any]]:
    """The samples, with each kept one's score on stderr when --keep or --rank asks for a ranking."""
    if not request.rank:
        return [(sample, None) for sample in generator.generate(request, show)]
    ranked = generator.ranked(request, show)
    for place, (_sample, score) in enumerate(ranked, 1):
        click.echo(f"kept {place} (sample {score.index + 1} of {request.num_samples}): {score.describe()}", err=True)
    return ranked


def _copied_from_training(generator: Any) -> Any:
    """A function giving the summary's novelty part for a piece: its longest run of melodic
    intervals copied from the training split, and from where (or why that is unknown)."""
    from seqgen.novelty import novelty_index

    try:
        index = novelty_index(generator.config.data)
    except SeqgenError as err:  # e.g. the corpus is not on this machine: the samples still count
        reason = str(err)
        return lambda _piece: f"; copied from training: unknown ({reason})"

    def copied(piece: Any) -> str:
        found = index.copies(piece, 1)
        if not found:
            return "; nothing copied from training"
        return f"; longest run copied from training {found[0].length} notes ({found[0].source})"

    return copied

