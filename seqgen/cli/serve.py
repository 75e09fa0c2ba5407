"""``seqgen serve``: the web playground."""

from __future__ import annotations

import click

from seqgen.cli.base import main

@main.command()
@click.option("--port", default=8000, help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", help="Address to bind; the default serves this machine only.")
@click.option("--checkpoints", default="checkpoints", help="Folder whose run directories are offered.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also accept requests addressed to NAME (a host name or address others reach this "
                   "server by; repeatable). Other Host headers are refused, against DNS rebinding.")
def serve(port: int, host: str, checkpoints: str, allow_hosts: tuple[str, ...]) -> None:
    """A local web playground: pick a run, generate text or music, see and hear it."""
    import torch

    from seqgen.device import fair_threads
    from seqgen.serve import serve as run_server

    # Set once, before any request: the count is process-wide and requests must not race on it.
    torch.set_num_threads(fair_threads())
    run_server(checkpoints, host, port, echo=click.echo, allow_hosts=allow_hosts)
