"""The playground's web app: its routes and their handlers, the one error handler, and
``serve()``, which runs it under uvicorn behind the guard (``seqgen.serve.guard``).

Handlers are plain module-level functions; what they share (the ``Catalog`` of runs, the
``Outputs`` folder and the generation ``Slots``) lives on ``request.app.state``, set up by
``create_app``. See ``seqgen.serve`` for the routes.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from seqgen.errors import SeqgenError
from seqgen.generate import SampleRequest, sample_music
from seqgen.paths import slug
from seqgen.serve.catalog import Catalog, Run, printable
from seqgen.serve.errors import ApiError
from seqgen.serve.fields import MUSIC_FIELDS, TEXT_FIELDS, parse_fields, read_json, sample_request, sampling_defaults
from seqgen.serve.guard import AllowedHosts, Guard, is_loopback
from seqgen.serve.outputs import MEDIA, Outputs, Slots
from seqgen.serve.stream import TextJob

WEB_DIR = Path(__file__).parent / "web"
MAX_ACTIVE = 4  # generations running at once; more get 429
log = logging.getLogger("seqgen.serve")


def index(_request: Request) -> Response:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html")


def checkpoints(request: Request) -> Response:
    catalog: Catalog = request.app.state.catalog
    return JSONResponse({"folder": printable(str(catalog.root)), "runs": catalog.listing(),
                         "defaults": sampling_defaults()})


def loss_curve(request: Request) -> Response:
    name = request.path_params["name"]
    path = request.app.state.catalog.get(name).folder / "loss.png"
    if not path.is_file():
        raise ApiError(404, f"run {name!r} has no loss curve yet")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-cache"})


def output_file(request: Request) -> Response:
    path, download = request.app.state.outputs.find(request.path_params["id"], request.path_params["name"])
    inline = path.suffix in (".wav", ".png")
    return FileResponse(path, media_type=MEDIA[path.suffix], filename=download,
                        content_disposition_type="inline" if inline else "attachment")


async def start_generation(request: Request, domain: str) -> tuple[Run, SampleRequest]:
    """The request's run, which must be a ``domain`` ("text" or "music") model, and what to
    generate from it, with a generation slot taken: the caller gives it back when done."""
    fields = parse_fields(await read_json(request), TEXT_FIELDS if domain == "text" else MUSIC_FIELDS)
    sample = sample_request(fields)
    name = fields.get("checkpoint")
    run = await run_in_threadpool(request.app.state.catalog.get, name)
    if run.info["domain"] != domain:
        other = "music" if domain == "text" else "text"
        raise ApiError(400, f"run {name!r} is a {other} model: use /api/generate/{other}")
    request.app.state.slots.take()
    return run, sample


async def generate_text(request: Request) -> Response:
    run, sample = await start_generation(request, "text")
    job = TextJob(run, sample, request.app.state.slots.give)
    first = await job.first()
    if first[0] == "error":  # refused before any text (e.g. a seed the vocabulary lacks)
        raise ApiError(400, first[1])
    return StreamingResponse(job.events(first), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def make_music(outputs: Outputs, run: Run, sample: SampleRequest) -> dict[str, Any]:
    """Generate the pieces and write their files (in a worker thread: it is all CPU)."""
    start = time.perf_counter()
    pieces, kept = run.curate(sample_music(run.model, run.tokenizer, sample), sample)
    token, samples = outputs.save(slug(run.info["name"], fallback="run"), pieces)
    for entry, score in zip(samples, kept or []):
        entry["score"] = score
    return {"id": token, "checkpoint": run.info["name"], "samples": samples,
            "seconds": round(time.perf_counter() - start, 3)}


async def generate_music(request: Request) -> Response:
    run, sample = await start_generation(request, "music")
    try:
        return JSONResponse(await run_in_threadpool(make_music, request.app.state.outputs, run, sample))
    finally:
        request.app.state.slots.give()


def error(request: Request, exc: Exception) -> Response:
    """Every error as ``{"error": message}``: 4xx for what the client can fix, else a 500."""
    if isinstance(exc, (ApiError, SeqgenError)):  # the message may quote a name UTF-8 cannot hold
        status = exc.status if isinstance(exc, ApiError) else 400
        return JSONResponse({"error": printable(str(exc))}, status_code=status)
    if isinstance(exc, HTTPException):
        message = {404: f"not found: {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, exc.detail)
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)
    log.error("unexpected error", exc_info=exc)
    return JSONResponse({"error": "internal error (see the server's log)"}, status_code=500)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    try:
        yield
    finally:
        app.state.outputs.close()


ROUTES = [
    Route("/", index),
    Route("/api/checkpoints", checkpoints),
    Route("/api/generate/text", generate_text, methods=["POST"]),
    Route("/api/generate/music", generate_music, methods=["POST"]),
    Route("/api/files/{id}/{name}", output_file),
    Route("/api/runs/{name}/loss.png", loss_curve),
    Mount("/static", StaticFiles(directory=WEB_DIR), name="static"),
]


def create_app(root: str | Path, host: str = "127.0.0.1", allow_hosts: Iterable[str] = ()) -> Starlette:
    """The playground for the runs under ``root``, served on the address ``host``: requests must
    name it (or one of ``allow_hosts``) in their Host header (see ``seqgen.serve.guard``)."""
    handlers = {ApiError: error, SeqgenError: error, HTTPException: error, Exception: error}
    app = Starlette(routes=ROUTES, middleware=[Middleware(Guard, hosts=AllowedHosts(host, allow_hosts))],
                    exception_handlers=handlers, lifespan=lifespan)
    app.state.catalog = Catalog(Path(root).expanduser())
    app.state.outputs = Outputs()
    app.state.slots = Slots(MAX_ACTIVE)
    return app


def serve(checkpoints: str | Path, host: str = "127.0.0.1", port: int = 8000,
          echo: Callable[[str], None] = print, allow_hosts: Iterable[str] = ()) -> None:
    """Serve the playground until Ctrl+C. Port 0 picks a free port (printed). ``allow_hosts``:
    names besides ``host`` that requests may reach it by (e.g. a host name others use).

    The server leaves torch's thread count as the process starts with and sets nothing per
    request: the count is process-global, so requests that set and restore it while others run
    race, and can leave the whole process at one thread. (The CLI's ``sample``, a process of its
    own, does choose one thread for a few streams.)"""
    import uvicorn

    root = Path(checkpoints).expanduser()
    if not root.is_dir():
        raise SeqgenError(f"no checkpoint folder {root}: train a model first (seqgen train) or pass --checkpoints DIR")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # an IPv6 address, with or without []
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)  # connections made from now on wait for the server instead of failing
    except (OSError, OverflowError) as err:
        sock.close()
        reason = getattr(err, "strerror", None) or err
        raise SeqgenError(f"cannot listen on {host} port {port}: {reason}; pass another --port or --host") from None
    port = sock.getsockname()[1]
    app = create_app(root, host, allow_hosts)
    runs = len(Catalog(root).folders())
    bare = host.strip("[]")
    shown = f"[{bare}]" if ":" in bare else bare
    echo(f"seqgen playground on http://{shown}:{port}/ ({runs} run{'s' * (runs != 1)} under {root}); Ctrl+C stops it")
    if not is_loopback(host):
        echo(f"warning: listening on {host}: anyone who can reach this address can run generations; it answers "
             f"requests addressed to {AllowedHosts(host, allow_hosts)} (--allow-host NAME adds a name)")
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
