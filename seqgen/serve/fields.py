"""What a generation request may contain, checked before any work starts.

The body must be a small JSON object; each field has a type and a range the server accepts
(limits on work, e.g. at most MAX_TOKENS tokens a sample). A field the body leaves out is left
out of the ``SampleRequest`` too, so its default comes from the one place sampling defaults
live: ``seqgen.generate.SampleRequest`` and ``seqgen.sampler.SamplingSettings``. The values
themselves (e.g. top-p above 0, bars or seconds but not both) are checked there, for every caller.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from starlette.requests import Request

from seqgen.generate import DEFAULT_BARS, DEFAULT_LENGTH, MAX_TEMPO, MIN_TEMPO, SampleRequest
from seqgen.sampler import SamplingSettings
from seqgen.serve.errors import ApiError

MAX_BODY = 64 * 1024  # bytes of a request body
MAX_TOKENS = 5000  # tokens per sample
MAX_SAMPLES = 8
MAX_SEED = 20_000  # characters: room to continue a long sample from its end
MAX_BARS, MAX_SECONDS = 64, 120

#: field -> (type, low, high) of a generation request; for a string, high is its longest length
#: (a bool's bounds are unused). ``primer`` is the id ``POST /api/primers`` gave an uploaded file.
COMMON: dict[str, tuple[type, float, float]] = {
    "checkpoint": (str, 0, 200), "seed": (str, 0, MAX_SEED), "length": (int, 1, MAX_TOKENS),
    "temperature": (float, 0, 100), "top_k": (int, 0, 10**9), "top_p": (float, 0, 1),
    "num_samples": (int, 1, MAX_SAMPLES), "random_seed": (int, 0, 2**63 - 1),
    "keep": (int, 1, MAX_SAMPLES), "rank": (str, 0, 20)}  # rank's values are checked by SampleRequest
TEXT_FIELDS = {**COMMON, "stop": (str, 0, 200)}
MUSIC_FIELDS = {**COMMON, "bars": (float, 0, MAX_BARS), "seconds": (float, 0, MAX_SECONDS),
                "tempo": (float, MIN_TEMPO, MAX_TEMPO), "key": (str, 0, 40), "time_signature": (str, 0, 7),
                "loop": (bool, 0, 1), "only_new": (bool, 0, 1), "free_voice_leading": (bool, 0, 1),
                "primer": (str, 0, 64)}
NULLABLE = {"random_seed", "keep", "rank", "tempo", "key", "time_signature"}  # null: the same as leaving the field out
SETTINGS = ("temperature", "top_k", "top_p")  # the fields that make up SamplingSettings


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
    except RecursionError:  # e.g. 50,000 "[": the parser recurses once per level
        raise ApiError(400, "body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def _no_constant(word: str) -> None:
    raise ValueError(f"{word} is not a number JSON allows")


def parse_fields(data: dict[str, Any], spec: dict[str, tuple[type, float, float]]) -> dict[str, Any]:
    """Type- and range-checked values of the fields ``data`` gives; unknown fields are refused."""
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; known fields: {', '.join(spec)}")
    out: dict[str, Any] = {}
    for name, (kind, low, high) in spec.items():
        if name not in data:
            continue
        value = data[name]
        if value is None and name in NULLABLE:
            out[name] = None
        elif kind is bool:
            if not isinstance(value, bool):
                raise ApiError(400, f"{name} must be true or false")
            out[name] = value
        elif kind is str:
            if not isinstance(value, str):
                raise ApiError(400, f"{name} must be a string")
            if len(value) > high:
                raise ApiError(400, f"{name} is longer than {high} characters")
            out[name] = value
        else:
            ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
            if not ok or isinstance(value, bool):
                raise ApiError(400, f"{name} must be {'an integer' if kind is int else 'a number'}")
            if not low <= value <= high:
                raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
            out[name] = kind(value)
    return out


def sample_request(fields: dict[str, Any]) -> SampleRequest:
    """The ``SampleRequest`` for checked ``fields``; the library's defaults fill the others.

    Raises ``SeqgenError`` (a 400) for values the library refuses, e.g. ``top_p`` 0.
    """
    settings = SamplingSettings(**{name: fields[name] for name in SETTINGS if name in fields})
    rest = {name: value for name, value in fields.items() if name not in SETTINGS and name != "checkpoint"}
    return SampleRequest(**rest, settings=settings)


def sampling_defaults() -> dict[str, Any]:
    """What a request gets for the fields it leaves out, for the page to fill its form with."""
    return {"length": DEFAULT_LENGTH, "bars": DEFAULT_BARS, "num_samples": SampleRequest().num_samples,
            **asdict(SamplingSettings())}
