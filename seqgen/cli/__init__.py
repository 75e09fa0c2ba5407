"""The ``seqgen`` command: a thin click shell over library functions, one module per command.

Importing the command modules registers them on ``main``, the entry point.
"""

from seqgen.cli import novelty, report, sample, serve, train
from seqgen.cli.base import main

__all__ = ["main", "novelty", "report", "sample", "serve", "train"]
