"""``python -m seqgen`` (and ``torchrun -m seqgen``) run the CLI."""

from seqgen.cli import main

main()
