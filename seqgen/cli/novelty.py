"""``seqgen novelty``: which passages of a file a checkpoint's training split already holds."""

from __future__ import annotations

import click

from seqgen.cli.base import main


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--checkpoint", default=None, help="Checkpoint file or run directory (default: newest run's best.pt).")
@click.option("--top", default=5, type=click.IntRange(1, 100), help="Copied passages to show, longest first.")
def novelty(file: str, checkpoint: str | None, top: int) -> None:
    """The longest passages of FILE (text, or MIDI/MusicXML for a music model) copied from the
    checkpoint's training split: characters verbatim, or runs of melodic intervals in any key."""
    from seqgen.novelty import file_copies

    index, copies = file_copies(file, checkpoint, top)
    if not copies:
        click.echo(f"nothing in {file} is in the training split")
    for copy in copies:
        where = f"{copy.track}, note {copy.start + 1}" if copy.track else f"char {copy.start + 1}"
        shown = repr(copy.shown) if index.unit == "chars" else copy.shown  # repr: newlines stay on one line
        click.echo(f"{copy.length:>6} {index.unit}  at {where}  from {copy.source}: {shown}")
