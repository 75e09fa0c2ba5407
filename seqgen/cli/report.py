"""``seqgen eval`` and ``seqgen corpus``: numbers about a checkpoint or a corpus."""

from __future__ import annotations

import json

import click

from seqgen.cli.base import DEFAULTS, fmt, main, print_table

@main.command(name="eval")
@click.option("--checkpoint", default=None, help="Checkpoint file or run directory (default: newest run's best.pt).")
@click.option("--split", type=click.Choice(["val", "test", "train"]), default="val", help="Split to evaluate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--samples", default=8, help="Music: samples to generate and compare with the split's statistics (0: none).")
@click.option("--bars", default=0.0, help="Music: bars asked of each sample; the split's pieces are cut to as many "
              "(0: seqgen sample's default).")
@click.option("--random-seed", default=0, help="Music: random seed of the samples.")
def evaluate(checkpoint: str | None, split: str, as_json: bool, device: str, samples: int, bars: float,
             random_seed: int) -> None:
    """Total NLL, nats/token, bits/char (or nats per note/quarter/beat/second) and perplexity over
    a whole split; for music, also music-theory statistics of generated samples next to the
    split's pieces cut to the same length."""
    from seqgen.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(checkpoint, split, device, samples, bars, random_seed)
    if as_json:
        click.echo(json.dumps(result))
        return
    stats = result.pop("sample_stats", None)
    print_table(result)
    if stats:
        click.echo(f"\n{'statistic':>28}  {'samples':>12}  {split:>12}")
        for key in dict.fromkeys([*stats["samples"], *stats["reference"]]):
            shown = [fmt(side[key]) if side.get(key) is not None else "-" for side in (stats["samples"], stats["reference"])]
            click.echo(f"{key:>28}  {shown[0]:>12}  {shown[1]:>12}")


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

    print_table(corpus_info(name, encoding, val_frac, test_frac))
