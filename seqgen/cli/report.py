"""``seqgen eval`` and ``seqgen corpus``: numbers about a checkpoint or a corpus."""

from __future__ import annotations

import json
from typing import Any

import click

from seqgen.cli.base import DEFAULTS, fmt, main, print_table
from seqgen.cli.train import CODEC_OPTIONS
from seqgen.config import DataConfig

#: Skipped files ``corpus info`` names one by one; the rest are counted.
MAX_SKIPPED_SHOWN = 20

@main.command(name="eval")
@click.option("--checkpoint", default=None, help="Checkpoint file or run directory (default: newest run's best.pt).")
@click.option("--split", type=click.Choice(["val", "test", "train"]), default="val", help="Split to evaluate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--samples", default=8, help="Music: samples to generate and compare with the split's statistics (0: none).")
@click.option("--bars", default=0.0, help="Music: bars asked of each sample; the split's pieces are cut to as many "
              "(0: seqgen sample's default).")
@click.option("--random-seed", default=0, help="Music: random seed of the samples.")
@click.option("--free-voice-leading", is_flag=True,
              help="Music: sample as `seqgen sample --free-voice-leading` does.")
def evaluate(checkpoint: str | None, split: str, as_json: bool, device: str, samples: int, bars: float,
             random_seed: int, free_voice_leading: bool) -> None:
    """Total NLL, nats/token, bits/char (or nats per note/quarter/beat/second) and perplexity over
    a whole split; for music, also music-theory statistics of generated samples next to the
    split's pieces cut to the same length."""
    from seqgen.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(checkpoint, split, device, samples, bars, random_seed, free_voice_leading)
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


def _codec_options(func: Any) -> Any:
    for option in reversed(CODEC_OPTIONS):
        func = option(func)
    return func


def _data(name: str, flags: dict[str, Any]) -> DataConfig:
    """The data settings a ``seqgen train --corpus NAME`` with these flags would use (checked)."""
    from seqgen.config import resolve_config

    config = resolve_config(flags={"corpus": name, **flags})
    config.validate()
    return config.data


@corpus.command(name="info")
@click.argument("name")
@click.option("--encoding", default="utf-8", help="Text encoding of .txt corpora.")
@click.option("--val-frac", default=DEFAULTS.data.val_frac, help="Validation fraction for the split sizes.")
@click.option("--test-frac", default=DEFAULTS.data.test_frac, help="Test fraction for the split sizes.")
@_codec_options
def corpus_info(name: str, **flags: Any) -> None:
    """Documents, size, split sizes and vocabulary of a corpus; for music also bars, hours, the
    files skipped and why, and the note-level round-trip F1 of the codec a run would fit."""
    from seqgen.corpus_report import corpus_report

    info = corpus_report(_data(name, flags))
    skipped = info.pop("skipped", [])
    print_table(info)
    for label, reason in skipped[:MAX_SKIPPED_SHOWN]:
        click.echo(f"  skipped {label}: {reason}")
    if len(skipped) > MAX_SKIPPED_SHOWN:
        click.echo(f"  ... and {len(skipped) - MAX_SKIPPED_SHOWN} more skipped")


@corpus.command(name="export")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write <split>/<n>-<title>.mid into.")
@click.option("--limit", default=0, help="Write at most N pieces (0: all).")
@click.option("--val-frac", default=DEFAULTS.data.val_frac, help="Validation fraction (decides each piece's split).")
@click.option("--test-frac", default=DEFAULTS.data.test_frac, help="Test fraction.")
@_codec_options
def corpus_export(name: str, out: str, limit: int, **flags: Any) -> None:
    """Write each piece of a music corpus as MIDI exactly as the model sees it: encoded and decoded
    by the codec a run with these flags fits, so you can listen to the training data."""
    from seqgen.corpus_report import export_corpus

    paths = export_corpus(_data(name, flags), out, limit)
    click.echo(f"wrote {len(paths)} MIDI file(s) under {out}")
