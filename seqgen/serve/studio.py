"""The studio's requests besides generating: how surprised a model is by each piece of a text
(the page shades a sample with it), and uploading a primer file for music to continue.

Both are thin: ``seqgen.text.surprise`` scores, ``seqgen.music.reader`` reads; this module checks
the request and shapes the answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from seqgen.serve.errors import ApiError
from seqgen.serve.fields import parse_fields, read_json
from seqgen.serve.outputs import MAX_PRIMER_BYTES

SCORE_FIELDS: dict[str, tuple[type, float, float]] = {"checkpoint": (str, 0, 200), "text": (str, 1, 40_000)}


async def score_text(request: Request) -> Response:
    """``{"checkpoint", "text"}`` -> ``{"pieces": [[piece, nats or null], ...], "nats_per_token"}``."""
    from seqgen.text.surprise import text_surprise

    fields = parse_fields(await read_json(request), SCORE_FIELDS)
    if not fields.get("text"):
        raise ApiError(400, "give a text to score")
    run = await run_in_threadpool(request.app.state.catalog.get, fields.get("checkpoint"))
    if run.info["domain"] != "text":
        raise ApiError(400, f"run {run.info['name']!r} is a music model: only text is shaded")
    pieces = await run_in_threadpool(text_surprise, run.model, run.tokenizer, fields["text"])
    scored = [nats for _, nats in pieces if nats is not None]
    return JSONResponse({"pieces": pieces, "nats_per_token": sum(scored) / len(scored) if scored else None})


async def upload_primer(request: Request) -> Response:
    """The body is a music file (``?name=clip.mid`` gives its name, whose suffix picks the
    reader), at most MAX_PRIMER_BYTES; answers ``{"primer": id, "name", "tracks", "notes"}``, the
    id a music request's ``primer`` field takes."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/octet-stream":
        raise ApiError(415, "send the file's bytes with Content-Type: application/octet-stream")
    name = request.query_params.get("name", "")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_PRIMER_BYTES:
            raise ApiError(413, f"primer file over {MAX_PRIMER_BYTES // 1024**2} MB")
    if not body:
        raise ApiError(400, "the primer file is empty")
    token, path = request.app.state.outputs.add_primer(name, bytes(body))
    facts = await run_in_threadpool(_read_primer, path, name)
    return JSONResponse({"primer": token, "name": name, **facts})


def _read_primer(path: Path, name: str) -> dict[str, Any]:
    """Tracks and notes of the uploaded file's first piece, or a 400 saying why it has none."""
    from seqgen.music.reader import MUSIC_SUFFIXES, is_music_file, read_music
    from seqgen.music.score import Piece

    if not is_music_file(path):
        raise ApiError(400, f"{name or 'the file'} is not a music file: give one of {', '.join(MUSIC_SUFFIXES)}")
    reasons = []
    for _label, piece in read_music(path):
        if isinstance(piece, Piece):
            return {"tracks": len(piece.tracks), "notes": piece.n_notes}
        reasons.append(piece)
    raise ApiError(400, f"{name or 'the file'} could not be read: {'; '.join(reasons)}")
