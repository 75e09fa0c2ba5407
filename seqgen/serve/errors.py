"""The one exception a handler raises to answer with a 4xx status and a message.

Apart from ``seqgen.errors.SeqgenError`` (a bad value the library refused, always a 400), an
``ApiError`` carries its own status: 404 for a run or file that is not there, 413 for a body too
large, 429 when too many generations are running, and so on.
"""

from __future__ import annotations


class ApiError(Exception):
    """A refusal the client should see as ``{"error": message}`` with HTTP ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
