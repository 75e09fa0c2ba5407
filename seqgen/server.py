"""``seqgen serve``: a local web playground and a JSON API over the same functions as the CLI.

Routes (every error is ``{"error": "..."}`` with a 4xx status, never a traceback):

- ``GET  /``                            the page (``seqgen/web/``: plain HTML, JS and CSS, no CDN)
- ``GET  /api/checkpoints``             the runs under the checkpoint folder and their facts
- ``POST /api/generate/text``           server-sent events: ``text`` events ``{"sample", "text"}``
                                        (each sample's seed first, then new pieces), then ``done``
                                        ``{"texts"}`` or ``error`` ``{"error"}``
- ``POST /api/generate/music``          JSON: per sample, URLs of its .mid, .musicxml, .wav and .png
- ``GET  /api/files/<id>/<name>``       a file a music generation wrote
- ``GET  /api/runs/<name>/loss.png``    a run's loss curve

A checkpoint is chosen by run name from the listing, never by a path from the request. Output
files live in a temporary folder owned by the server under random ids. Loaded models are cached
per file and modification time, so a run that is still training shows its newest ``best.pt``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
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

from seqgen.checkpoint import Checkpoint, resolve_checkpoint
from seqgen.errors import SeqgenError
from seqgen.generate import SampleRequest, sample_music, sample_text
from seqgen.sampler import SamplingSettings

WEB_DIR = Path(__file__).parent / "web"
MAX_BODY = 64 * 1024  # bytes of a request body
MAX_TOKENS = 5000  # tokens per sample
MAX_SAMPLES = 8
MAX_SEED = 5000  # characters
MAX_BARS, MAX_SECONDS = 64, 120
MAX_ACTIVE = 4  # generations running at once; more get 429
FLUSH_EVERY = 0.05  # seconds between batches of streamed text
KEEP_OUTPUTS = 64  # music generations whose files are kept
FORMATS = {"midi": ".mid", "musicxml": ".musicxml", "wav": ".wav", "png": ".png"}
MEDIA = {".mid": "audio/midi", ".musicxml": "application/vnd.recordare.musicxml+xml", ".wav": "audio/wav",
         ".png": "image/png"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("seqgen.server")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Run:
    """A loaded checkpoint: its facts for the listing, and the model ready to sample."""

    info: dict[str, Any]
    folder: Path
    model: Any
    tokenizer: Any

    def private_model(self) -> Any:
        """A copy for one request: sampling converts the model and runs nn.LSTM/GRU, which
        rewrites the module's flat-weight lists, so two requests must never share a module."""
        return copy.deepcopy(self.model)


class Catalog:
    """The runs under one folder; loads each checkpoint once per (path, mtime, size)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.cache: dict[Path, tuple[tuple[int, int], Run]] = {}

    def folders(self) -> dict[str, Path]:
        """Run name -> run folder: each visible subfolder holding best.pt or last.pt (and the
        folder itself when it is a run)."""
        found = {}
        candidates = [self.root, *sorted(self.root.iterdir())] if self.root.is_dir() else []
        for folder in candidates:
            name = folder.resolve().name if folder == self.root else folder.name
            if folder.is_dir() and name and not name.startswith(".") and any(
                    (folder / n).is_file() for n in ("best.pt", "last.pt")):
                found.setdefault(name, folder)
        return found

    def listing(self) -> list[dict[str, Any]]:
        rows = []
        for name, folder in self.folders().items():
            try:
                rows.append(self.load(name, folder).info)
            except SeqgenError as err:
                rows.append({"name": name, "error": str(err)})
        return sorted(rows, key=lambda r: -r.get("modified", 0))

    def get(self, name: Any) -> Run:
        """The run called ``name`` in the listing; anything else is refused."""
        if not isinstance(name, str) or not name:
            raise ApiError(400, "give a checkpoint: a run name from GET /api/checkpoints")
        if name.startswith(".") or any(c in name for c in "/\\\0"):
            raise ApiError(400, f"invalid checkpoint name {name!r}: give a run name from GET /api/checkpoints")
        folder = self.folders().get(name)
        if folder is None:
            raise ApiError(404, f"no run named {name!r} under the checkpoint folder")
        return self.load(name, folder)

    def load(self, name: str, folder: Path) -> Run:
        path = resolve_checkpoint(folder)
        try:
            stat = path.stat()
        except OSError as err:  # removed since the folder was listed
            raise SeqgenError(f"cannot read {path}: {err.strerror or err}") from None
        key = (stat.st_mtime_ns, stat.st_size)
        with self.lock:
            cached = self.cache.get(path)
            if cached and cached[0] == key:
                return cached[1]
            ckpt = Checkpoint.load(path)
            model, tokenizer, config = ckpt.build()
            model.float().cpu().eval()
            best = ckpt.best_val
            info = {
                "name": name, "file": path.name, "corpus": ckpt.corpus or config.data.corpus,
                "domain": tokenizer.domain, "tokenizer": tokenizer.kind,
                "cell": config.model.cell, "layers": config.model.layers, "hidden": config.model.hidden,
                "vocab": tokenizer.vocab_size, "params": model.num_parameters(),
                "best_val": best if isinstance(best, float) and math.isfinite(best) else None,
                "step": ckpt.step, "modified": stat.st_mtime,
                "loss_curve": f"/api/runs/{name}/loss.png",
            }
            run = Run(info, folder, model, tokenizer)
            self.cache[path] = (key, run)
            return run


class Outputs:
    """Files written by music generations: a private temp folder, random ids, known names only."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="seqgen-serve-"))
        self.lock = threading.Lock()
        self.files: OrderedDict[str, dict[str, tuple[Path, str]]] = OrderedDict()

    def folder(self) -> tuple[str, Path]:
        token = secrets.token_hex(16)
        path = self.root / token
        path.mkdir()
        return token, path

    def add(self, token: str, files: dict[str, tuple[Path, str]]) -> None:
        with self.lock:
            self.files[token] = files
            while len(self.files) > KEEP_OUTPUTS:
                old, _ = self.files.popitem(last=False)
                shutil.rmtree(self.root / old, ignore_errors=True)

    def find(self, token: str, name: str) -> tuple[Path, str]:
        with self.lock:
            found = self.files.get(token, {}).get(name)
        if found is None or not found[0].is_file():
            raise ApiError(404, "no such file (outputs of old generations are removed)")
        return found

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class Slots:
    """At most MAX_ACTIVE generations at once."""

    def __init__(self, limit: int) -> None:
        self.sem = threading.BoundedSemaphore(limit)

    def take(self) -> None:
        if not self.sem.acquire(blocking=False):
            raise ApiError(429, f"{MAX_ACTIVE} generations are already running; try again when one finishes")

    def give(self) -> None:
        self.sem.release()


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body, at most MAX_BODY bytes."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "send a JSON object with Content-Type: application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, f"request body over {MAX_BODY // 1024} KB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, f"request body over {MAX_BODY // 1024} KB")
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, f"body is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def _no_constant(word: str) -> None:
    raise ValueError(f"{word} is not a number JSON allows")


#: field -> (type, default, low, high) of a generation request.
COMMON = {"checkpoint": (str, "", 0, 200), "seed": (str, "", 0, MAX_SEED), "length": (int, 500, 1, MAX_TOKENS),
          "temperature": (float, 1.0, 0, 100), "top_k": (int, 0, 0, 10**9), "top_p": (float, 1.0, 0, 1),
          "num_samples": (int, 1, 1, MAX_SAMPLES), "random_seed": (int, None, 0, 2**63 - 1)}
TEXT_FIELDS = {**COMMON, "stop": (str, "", 0, 200)}
MUSIC_FIELDS = {**COMMON, "bars": (float, 0.0, 0, MAX_BARS), "seconds": (float, 0.0, 0, MAX_SECONDS)}


def parse_fields(data: dict[str, Any], spec: dict[str, tuple[type, Any, float, float]]) -> dict[str, Any]:
    """Type- and range-checked values for the fields in ``spec``; unknown fields are refused."""
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; known fields: {', '.join(spec)}")
    out = {}
    for name, (kind, default, low, high) in spec.items():
        value = data.get(name, default)
        if value is None and default is None:
            out[name] = None
            continue
        if kind is str:
            if not isinstance(value, str):
                raise ApiError(400, f"{name} must be a string")
            if len(value) > high:
                raise ApiError(400, f"{name} is longer than {high} characters")
        else:
            ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
            if not ok or isinstance(value, bool):
                raise ApiError(400, f"{name} must be {'an integer' if kind is int else 'a number'}")
            if not low <= value <= high:
                raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
            value = kind(value)
        out[name] = value
    return out


def sample_request(fields: dict[str, Any]) -> SampleRequest:
    settings = SamplingSettings(fields["temperature"], fields["top_k"], fields["top_p"])
    return SampleRequest(fields["seed"], fields["length"], fields["num_samples"], fields.get("stop", ""),
                         fields["random_seed"], settings, fields.get("bars", 0.0), fields.get("seconds", 0.0))


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class _Stopped(Exception):
    """Raised inside the sampling callback when the client has gone away."""


class TextJob:
    """One text generation in a worker thread. Its pieces reach the event loop in batches (at
    most every FLUSH_EVERY seconds) so a fast model is not slowed by one wake-up per token."""

    def __init__(self, run: Run, sample: SampleRequest, release: Callable[[], None]) -> None:
        self.loop, self.queue, self.stop = asyncio.get_running_loop(), asyncio.Queue(), threading.Event()
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
            texts = sample_text(self.run.private_model(), self.run.tokenizer, self.sample, self.on_text)
            self.flush()
            self.put(("done", {"texts": texts, "seconds": round(time.perf_counter() - start, 3)}))
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
        try:
            return await self.queue.get()
        except BaseException:  # cancelled: the client left before the first piece
            self.stop.set()
            raise

    async def events(self, item: tuple[Any, ...]) -> AsyncIterator[str]:
        """Server-sent events: per batch, one ``text`` event per sample; then ``done`` or ``error``."""
        try:
            while item[0] == "text":
                joined: dict[int, str] = {}
                for index, piece in item[1]:
                    joined[index] = joined.get(index, "") + piece
                yield "".join(_sse("text", {"sample": i, "text": t}) for i, t in joined.items())
                item = await self.queue.get()
            yield _sse(item[0], item[1] if item[0] == "done" else {"error": item[1]})
        finally:
            self.stop.set()  # finished, or the client went away: the worker stops at its next piece


def create_app(root: str | Path, allowed_hosts: list[str] | None = None) -> Starlette:
    """The playground for the runs under ``root``; ``allowed_hosts`` guards against DNS rebinding."""
    catalog, outputs, slots = Catalog(Path(root).expanduser()), Outputs(), Slots(MAX_ACTIVE)

    async def run_named(name: Any, domain: str) -> Run:
        run = await run_in_threadpool(catalog.get, name)
        if run.info["domain"] != domain:
            other = "music" if domain == "text" else "text"
            raise ApiError(400, f"run {name!r} is a {other} model: use /api/generate/{other}")
        return run

    def index(_request: Request) -> Response:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    def checkpoints(_request: Request) -> Response:
        return JSONResponse({"folder": str(catalog.root), "runs": catalog.listing()})

    def loss_curve(request: Request) -> Response:
        name = request.path_params["name"]
        path = catalog.get(name).folder / "loss.png"
        if not path.is_file():
            raise ApiError(404, f"run {name!r} has no loss curve yet")
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-cache"})

    def output_file(request: Request) -> Response:
        path, download = outputs.find(request.path_params["id"], request.path_params["name"])
        inline = path.suffix in (".wav", ".png")
        return FileResponse(path, media_type=MEDIA[path.suffix], filename=download,
                            content_disposition_type="inline" if inline else "attachment")

    async def generate_text(request: Request) -> Response:
        fields = parse_fields(await read_json(request), TEXT_FIELDS)
        sample = sample_request(fields)
        run = await run_named(fields["checkpoint"], "text")
        slots.take()
        job = TextJob(run, sample, slots.give)
        first = await job.first()
        if first[0] == "error":  # refused before any text (e.g. a seed the vocabulary lacks)
            raise ApiError(400, first[1])
        return StreamingResponse(job.events(first), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def make_music(run: Run, fields: dict[str, Any], sample: SampleRequest) -> dict[str, Any]:
        from seqgen.music.writers import write_music

        start = time.perf_counter()
        pieces = sample_music(run.private_model(), run.tokenizer, sample)
        token, folder = outputs.folder()
        files, samples = {}, []
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in run.info["name"])[:60]
        try:
            for number, piece in enumerate(pieces, 1):
                entry: dict[str, Any] = {"sample": number, "notes": piece.n_notes, "tracks": len(piece.tracks),
                                         "seconds": round(piece.seconds, 2), "files": {}, "errors": {}}
                for fmt, suffix in FORMATS.items():  # one format failing (e.g. notation) spares the others
                    name = f"sample-{number}{suffix}"
                    try:
                        write_music(piece, folder / name)
                    except SeqgenError as err:
                        entry["errors"][fmt] = str(err)
                        continue
                    files[name] = (folder / name, f"{stem}-{token[:6]}-{number}{suffix}")
                    entry["files"][fmt] = f"/api/files/{token}/{name}"
                samples.append(entry)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        outputs.add(token, files)
        return {"id": token, "checkpoint": run.info["name"], "samples": samples,
                "seconds": round(time.perf_counter() - start, 3)}

    async def generate_music(request: Request) -> Response:
        fields = parse_fields(await read_json(request), MUSIC_FIELDS)
        sample = sample_request(fields)
        run = await run_named(fields["checkpoint"], "music")
        slots.take()
        try:
            return JSONResponse(await run_in_threadpool(make_music, run, fields, sample))
        finally:
            slots.give()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            outputs.close()

    def error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ApiError):
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        if isinstance(exc, SeqgenError):
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(exc, HTTPException):
            message = {404: f"not found: {request.url.path}",
                       405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, exc.detail)
            return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)
        log.error("unexpected error", exc_info=exc)
        return JSONResponse({"error": "internal error (see the server's log)"}, status_code=500)

    routes = [
        Route("/", index),
        Route("/api/checkpoints", checkpoints),
        Route("/api/generate/text", generate_text, methods=["POST"]),
        Route("/api/generate/music", generate_music, methods=["POST"]),
        Route("/api/files/{id}/{name}", output_file),
        Route("/api/runs/{name}/loss.png", loss_curve),
        Mount("/static", StaticFiles(directory=WEB_DIR), name="static"),
    ]
    middleware = [Middleware(Guard, allowed_hosts=allowed_hosts)]
    handlers = {ApiError: error, SeqgenError: error, HTTPException: error, Exception: error}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)
    app.state.catalog, app.state.outputs, app.state.slots = catalog, outputs, slots
    return app


class Guard:
    """Refuses requests whose Host header is not an allowed name (DNS rebinding: a web page
    reaching the local server through a name of its own), and sends every response with a
    same-origin policy: no framing, no foreign scripts, no content sniffing."""

    POLICY = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    HEADERS = ((b"content-security-policy", POLICY.encode()), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"no-referrer"))

    def __init__(self, app: Callable[..., Any], allowed_hosts: list[str] | None = None) -> None:
        self.app, self.allowed = app, allowed_hosts

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        if self.allowed is not None:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            name = host[1:].split("]")[0] if host.startswith("[") else host.split(":")[0]
            if name not in self.allowed:
                response = JSONResponse({"error": f"unexpected Host header {host!r}: open the page through "
                                                  f"one of {', '.join(self.allowed)}"}, status_code=400)
                return await response(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)


def serve(checkpoints: str | Path, host: str = "127.0.0.1", port: int = 8000,
          echo: Callable[[str], None] = print) -> None:
    """Serve the playground until Ctrl+C. Port 0 picks a free port (printed)."""
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
    local = host.strip("[]").lower() in LOOPBACK
    app = create_app(root, list(LOOPBACK) if local else None)
    runs = len(Catalog(root).folders())
    bare = host.strip("[]")
    shown = f"[{bare}]" if ":" in bare else bare
    echo(f"seqgen playground on http://{shown}:{port}/ ({runs} run{'s' * (runs != 1)} under {root}); Ctrl+C stops it")
    if not local:
        echo(f"warning: listening on {host}: anyone who can reach this address can run generations")
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])
