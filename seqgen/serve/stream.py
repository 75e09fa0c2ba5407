"""A text generation streamed to the client as server-sent events while it is being made.

Sampling is CPU-bound, so it runs in a worker thread and hands its pieces to the event loop
through a queue. The response starts only once the first piece (each sample's seed) or an error
has arrived, so a request the library refuses (e.g. a seed the vocabulary lacks) still gets a
plain 400 instead of a stream that fails. When the client goes away the worker stops at its next
piece.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from seqgen.errors import SeqgenError
from seqgen.generate import SampleRequest, sample_text
from seqgen.serve.catalog import Run

FLUSH_EVERY = 0.05  # seconds between batches of streamed text
log = logging.getLogger("seqgen.serve")


def sse(event: str, data: Any) -> str:
    """One server-sent event whose data is ``data`` as JSON."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class _Stopped(Exception):
    """Raised inside the sampling callback when the client has gone away."""


class TextJob:
    """One text generation in a worker thread. Its pieces reach the event loop in batches (at
    most every FLUSH_EVERY seconds) so a fast model is not slowed by one wake-up per token.

    Queue items: ``("text", [(sample, piece), ...])``, then ``("done", {"texts", "seconds"})``
    or ``("error", message)``. Every sample drawn streams; when the request ranks them, ``done``
    holds only the kept texts, best first, and ``kept``: their scores (``sample``: which one). ``release`` is called once the worker has finished.
    """

    def __init__(self, run: Run, sample: SampleRequest, release: Callable[[], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.stop = threading.Event()
        self.pending: list[tuple[int, str]] = []
        self.flushed, self.seeds = 0.0, sample.num_samples  # each sample's seed goes out at once, alone
        self.run, self.sample, self.release = run, sample, release
        threading.Thread(target=self.work, name="seqgen-text", daemon=True).start()

    def put(self, item: tuple[Any, ...]) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone: the server is shutting down
            raise _Stopped from None

    def flush(self) -> None:
        if self.pending:
            self.put(("text", self.pending))
            self.pending = []
        self.flushed = time.monotonic()

    def on_text(self, index: int, piece: str) -> None:
        if self.stop.is_set():
            raise _Stopped
        self.pending.append((index, piece))
        self.seeds -= 1
        if self.seeds >= 0 or time.monotonic() - self.flushed >= FLUSH_EVERY:
            self.flush()

    def work(self) -> None:
        start = time.perf_counter()
        try:
            texts = sample_text(self.run.model, self.run.tokenizer, self.sample, self.on_text)
            self.flush()
            texts, kept = self.run.curate(texts, self.sample)
            done = {"texts": texts, "seconds": round(time.perf_counter() - start, 3)}
            self.put(("done", done if kept is None else {**done, "kept": kept}))
        except _Stopped:
            pass
        except SeqgenError as err:
            self.put(("error", str(err)))
        except Exception:
            log.exception("text generation failed")
            self.put(("error", "internal error while generating (see the server's log)"))
        finally:
            self.release()

    async def first(self) -> tuple[Any, ...]:
        """The first queue item: text, or the error that ended the job before any."""
        try:
            return await self.queue.get()
        except BaseException:  # cancelled: the client left before the first piece
            self.stop.set()
            raise

    async def events(self, item: tuple[Any, ...]) -> AsyncIterator[str]:
        """Server-sent events from ``item`` (the first) on: per batch, one ``text`` event per
        sample; then ``done`` or ``error``."""
        try:
            while item[0] == "text":
                joined: dict[int, str] = {}
                for index, piece in item[1]:
                    joined[index] = joined.get(index, "") + piece
                yield "".join(sse("text", {"sample": i, "text": t}) for i, t in joined.items())
                item = await self.queue.get()
            yield sse(item[0], item[1] if item[0] == "done" else {"error": item[1]})
        finally:
            self.stop.set()  # finished, or the client went away: the worker stops at its next piece
