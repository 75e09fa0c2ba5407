"""Requests that used to end in a 500: each gets a 4xx with a message, or keeps what did work."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tiny_runs import MUSIC_RUN, TEXT_RUN

import seqgen.music.writers


@pytest.mark.parametrize("body", [b"[" * 50_000, b'{"seed":' + b'{"a":' * 12_000], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_400(client: TestClient, body: bytes) -> None:
    response = client.post("/api/generate/text", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"], response.text


@pytest.mark.parametrize("domain, run", [("text", TEXT_RUN), ("music", MUSIC_RUN)])
def test_a_temperature_too_small_for_float32_is_a_400(client: TestClient, domain: str, run: str) -> None:
    response = client.post(f"/api/generate/{domain}", json={"checkpoint": run, "seed": "C4" if domain == "music" else "R",
                                                             "length": 5, "temperature": 1e-300})
    assert response.status_code == 400 and "temperature must be 0" in response.json()["error"], response.text


def test_an_unexpected_failure_in_one_format_keeps_the_others(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    real = seqgen.music.writers.write_music

    def write_music(piece: object, path: Path) -> Path:
        if Path(path).suffix == ".png":
            raise ValueError("matplotlib fell over")  # not a SeqgenError: a bug or a library's surprise
        return real(piece, path)

    monkeypatch.setattr(seqgen.music.writers, "write_music", write_music)
    response = client.post("/api/generate/music", json={"checkpoint": MUSIC_RUN, "length": 20, "random_seed": 2})
    assert response.status_code == 200, response.text
    (sample,) = response.json()["samples"]
    assert set(sample["files"]) == {"midi", "musicxml", "wav"}
    assert "could not write the .png file" in sample["errors"]["png"]
    assert client.get(sample["files"]["midi"]).content.startswith(b"MThd")
    assert any("matplotlib fell over" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
