"""The playground's JSON API through Starlette's TestClient: listing, streamed text, music files,
and the refusals (paths, sizes, bad values, busy) that must come back as 4xx JSON."""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import pretty_midi
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from tiny_runs import LOCAL, MUSIC_RUN, TEXT_RUN

from seqgen.cli import main
from seqgen.generate import DEFAULT_BARS, DEFAULT_LENGTH, sample_text
from seqgen.sampler import SamplingSettings
from seqgen.serve.app import MAX_ACTIVE, create_app


def events(body: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a server-sent-events body."""
    out = []
    for block in body.split("\n\n"):
        if block.strip():
            fields = dict(line.split(": ", 1) for line in block.splitlines())
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def generate_text(client: TestClient, **body) -> tuple[list[str], dict]:
    response = client.post("/api/generate/text", json={"checkpoint": TEXT_RUN, **body})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    stream = events(response.text)
    assert stream[-1][0] == "done", stream[-1]
    texts = [""] * body.get("num_samples", 1)
    for kind, data in stream[:-1]:
        assert kind == "text"
        texts[data["sample"]] += data["text"]
    return texts, stream[-1][1]


def test_listing_describes_each_run(client: TestClient, runs: Path) -> None:
    response = client.get("/api/checkpoints")
    assert response.status_code == 200
    listed = {run["name"]: run for run in response.json()["runs"]}
    assert set(listed) == {TEXT_RUN, MUSIC_RUN}
    text, music = listed[TEXT_RUN], listed[MUSIC_RUN]
    assert (text["domain"], text["cell"], text["layers"], text["hidden"], text["tokenizer"]) == ("text", "lstm", 1, 16,
                                                                                                 "char")
    assert (music["domain"], music["cell"], music["tokenizer"]) == ("music", "gru", "grid")
    assert text["corpus"] == "play" and music["corpus"] == "tunes"
    for run in (text, music):
        assert run["params"] > 0 and run["step"] == 6 and run["file"] == "best.pt"
        assert isinstance(run["best_val"], float)
        curve = client.get(run["loss_curve"])
        assert curve.status_code == 200 and curve.headers["content-type"] == "image/png"
        assert curve.content.startswith(b"\x89PNG")


def test_listing_shows_unreadable_runs_and_reloads_changed_ones(runs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    (folder / "good").mkdir(parents=True)
    (folder / "good" / "best.pt").write_bytes((runs / TEXT_RUN / "best.pt").read_bytes())
    (folder / "broken").mkdir()
    (folder / "broken" / "best.pt").write_bytes(b"not a checkpoint")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "best.pt").write_bytes(b"x")
    (folder / "empty").mkdir()
    app = create_app(folder)
    with TestClient(app, base_url=LOCAL) as client:
        listed = {run["name"]: run for run in client.get("/api/checkpoints").json()["runs"]}
        assert set(listed) == {"good", "broken"}
        assert "checkpoint" in listed["broken"]["error"]
        catalog = app.state.catalog
        first = catalog.get("good")
        assert catalog.get("good") is first  # cached
        os.utime(folder / "good" / "best.pt", ns=(1, 1))
        assert catalog.get("good") is not first  # file changed: loaded again
        response = client.post("/api/generate/text", json={"checkpoint": "broken", "seed": "R"})
        assert response.status_code == 400 and "checkpoint" in response.json()["error"]
        curve = client.get("/api/runs/good/loss.png")
        assert curve.status_code == 404 and "no loss curve" in curve.json()["error"]


def test_page_and_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # nothing fetched from elsewhere
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert "//cdn" not in response.text and "https://" not in response.text


def test_text_streams_seed_first_then_pieces(client: TestClient) -> None:
    response = client.post("/api/generate/text", json={"checkpoint": TEXT_RUN, "seed": "ROMEO:", "length": 40,
                                                       "num_samples": 3, "random_seed": 7})
    stream = events(response.text)
    assert [kind for kind, _ in stream[:3]] == ["text"] * 3
    assert [data for _, data in stream[:3]] == [{"sample": i, "text": "ROMEO:"} for i in range(3)]
    texts, done = generate_text(client, seed="ROMEO:", length=40, num_samples=3, random_seed=7)
    assert done["texts"] == texts
    assert all(t.startswith("ROMEO:") and len(t) == len("ROMEO:") + 40 for t in texts)
    again, _ = generate_text(client, seed="ROMEO:", length=40, num_samples=3, random_seed=7)
    assert again == texts  # a random seed makes it reproducible
    greedy = generate_text(client, seed="R", length=30, temperature=0)[0][0]
    stop = greedy[8]  # a character the model does generate; the sample must end at its first one
    stopped = generate_text(client, seed="R", length=30, temperature=0, stop=stop)[0][0]
    assert stopped == greedy[:greedy.index(stop, 1) + 1]
    sampled = generate_text(client, seed="R", length=20, temperature=0.5, top_k=5, top_p=0.9)[0][0]
    assert sampled.startswith("R") and len(sampled) == 21


def test_music_files_are_written_and_readable(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/api/generate/music", json={"checkpoint": MUSIC_RUN, "seed": "C4 E4 G4", "bars": 2,
                                                        "num_samples": 2, "random_seed": 3, "temperature": 0.9})
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(result["samples"]) == 2 and len(result["id"]) == 32
    for sample in result["samples"]:
        assert sample["errors"] == {} and sample["notes"] >= 3
        files = sample["files"]
        assert set(files) == {"midi", "musicxml", "wav", "png"}
        midi = client.get(files["midi"])
        assert midi.headers["content-type"] == "audio/midi"
        assert midi.headers["content-disposition"].startswith("attachment;")
        path = tmp_path / "sample.mid"
        path.write_bytes(midi.content)
        notes = [n for inst in pretty_midi.PrettyMIDI(str(path)).instruments for n in inst.notes]
        assert len(notes) == sample["notes"]
        assert {60, 64, 67} <= {n.pitch for n in notes if n.start == 0}  # the seed chord opens it
        wav = client.get(files["wav"])
        assert wav.headers["content-type"] == "audio/wav"
        assert wav.content[:4] == b"RIFF" and wav.content[8:12] == b"WAVE"
        png = client.get(files["png"])
        assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
        xml = client.get(files["musicxml"])
        assert b"<score-partwise" in xml.content
    empty = client.post("/api/generate/music", json={"checkpoint": MUSIC_RUN, "length": 30, "random_seed": 1})
    assert empty.status_code == 200, empty.text  # no seed: the model starts on its own


def test_music_controls_key_meter_tempo_and_loop(client: TestClient, tmp_path: Path) -> None:
    import mido

    body = {"checkpoint": MUSIC_RUN, "bars": 2, "num_samples": 2, "random_seed": 4, "temperature": 2.0,
            "key": "D major", "time_signature": "4/4", "tempo": 90.5, "loop": True}
    response = client.post("/api/generate/music", json=body)
    assert response.status_code == 200, response.text
    for sample in response.json()["samples"]:
        path = tmp_path / "loop.mid"
        path.write_bytes(client.get(sample["files"]["midi"]).content)
        midi = pretty_midi.PrettyMIDI(str(path))
        pitches = {n.pitch % 12 for inst in midi.instruments for n in inst.notes}
        assert pitches and pitches <= {2, 4, 6, 7, 9, 11, 1}  # D major
        assert midi.get_end_time() == pytest.approx(2 * 4 * 60 / 90.5)  # exactly two bars at 90.5 qpm
        meta = [m for t in mido.MidiFile(path).tracks for m in t if m.is_meta]
        assert [m.key for m in meta if m.type == "key_signature"] == ["D"]
        assert [(m.numerator, m.denominator) for m in meta if m.type == "time_signature"] == [(4, 4)]
        assert [round(mido.tempo2bpm(m.tempo), 2) for m in meta if m.type == "set_tempo"] == [90.5]


@pytest.mark.parametrize("name", ["../play-lstm", "/etc/passwd", "play-lstm/../play-lstm", ".", "..", "a\\b",
                                  "checkpoints", "nope", "", 5, None, ["play-lstm"]])
def test_checkpoint_is_chosen_by_listed_name_only(client: TestClient, name: object) -> None:
    response = client.post("/api/generate/text", json={"checkpoint": name, "seed": "R", "length": 5})
    assert response.status_code in (400, 404), response.text
    assert response.json()["error"]


@pytest.mark.parametrize("path", ["/api/runs/..%2F..%2Fetc/loss.png", "/api/runs/%2e%2e/loss.png",
                                  "/api/runs/nope/loss.png", "/api/files/deadbeef/sample-1.mid",
                                  "/api/files/..%2F..%2F/etc%2Fpasswd", "/static/../server.py",
                                  "/static/%2e%2e/server.py", "/nothing"])
def test_paths_outside_what_is_served_are_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 404) and response.json()["error"], (path, response.text)


def test_file_names_must_be_ones_the_server_wrote(client: TestClient) -> None:
    result = client.post("/api/generate/music", json={"checkpoint": MUSIC_RUN, "length": 20, "random_seed": 1}).json()
    token = result["id"]
    assert client.get(f"/api/files/{token}/sample-1.mid").status_code == 200
    for name in ("sample-2.mid", "sample-1.txt", ".sample-1.tmp.mid", "..%2F..%2Fcheckpoints"):
        response = client.get(f"/api/files/{token}/{name}")
        assert response.status_code == 404 and response.json()["error"]


BAD_TEXT = [
    ({"length": 0}, "length must be between 1 and 5000"),
    ({"length": 5001}, "length must be between 1 and 5000"),
    ({"length": 2.5}, "length must be an integer"),
    ({"length": "10"}, "length must be an integer"),
    ({"num_samples": 9}, "num_samples must be between 1 and 8"),
    ({"num_samples": True}, "num_samples must be an integer"),
    ({"temperature": -1}, "temperature must be between 0 and 100"),
    ({"top_p": 0}, "top-p must be in (0, 1]"),
    ({"top_p": 1.5}, "top_p must be between 0 and 1"),
    ({"top_k": -3}, "top_k must be between 0"),
    ({"random_seed": -1}, "random_seed must be between 0"),
    ({"keep": 2}, "keep must be 1 to the number of samples (1)"),
    ({"num_samples": 2, "rank": "best"}, "rank must be one of"),
    ({"keep": 9}, "keep must be between 1 and 8"),
    ({"seed": "x" * 5001}, "seed is longer than 5000 characters"),
    ({"seed": "ROMEO\u263a"}, "vocabulary lacks"),  # a SeqgenError from the library, passed through
    ({"seed": 12}, "seed must be a string"),
    ({"lenght": 5}, "unknown field 'lenght'"),
    ({"bars": 4}, "unknown field 'bars'"),
]


@pytest.mark.parametrize(("change", "message"), BAD_TEXT)
def test_bad_text_requests_get_a_4xx_message(client: TestClient, change: dict, message: str) -> None:
    body = {"checkpoint": TEXT_RUN, "seed": "ROMEO:", "length": 5, **change}
    response = client.post("/api/generate/text", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


BAD_MUSIC = [
    ({"bars": 65}, "bars must be between 0 and 64"),
    ({"seconds": 500}, "seconds must be between 0 and 120"),
    ({"bars": 2, "seconds": 2}, "not both"),
    ({"seed": "H9"}, "not a note name"),
    ({"stop": "x"}, "unknown field 'stop'"),
    ({"length": 6000}, "length must be between 1 and 5000"),
    ({"key": "H minor"}, "not a key"),
    ({"key": 5}, "key must be a string"),
    ({"time_signature": "3/5"}, "not a time signature"),
    ({"time_signature": "5/4"}, "knows no 5/4 bars"),
    ({"tempo": 10}, "tempo must be between 20"),
    ({"loop": "yes"}, "loop must be true or false"),
    ({"loop": True, "seconds": 3}, "whole number of --bars"),
]


@pytest.mark.parametrize(("change", "message"), BAD_MUSIC)
def test_bad_music_requests_get_a_4xx_message(client: TestClient, change: dict, message: str) -> None:
    response = client.post("/api/generate/music", json={"checkpoint": MUSIC_RUN, "length": 10, **change})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_wrong_domain_and_malformed_bodies(client: TestClient) -> None:
    wrong = client.post("/api/generate/music", json={"checkpoint": TEXT_RUN})
    assert wrong.status_code == 400 and "text model" in wrong.json()["error"]
    wrong = client.post("/api/generate/text", json={"checkpoint": MUSIC_RUN, "seed": "C4"})
    assert wrong.status_code == 400 and "music model" in wrong.json()["error"]
    cases = [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
        ({"content": b'{"checkpoint": "play-lstm", "seed": "R", "temperature": NaN}',
          "headers": {"content-type": "application/json"}}, 400, "NaN"),
        ({"content": b'{"seed": "\xff"}', "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
        ({"json": ["R"]}, 400, "JSON object"),
        ({"content": b"seed=R", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415, "JSON"),
        ({"content": b"{}"}, 415, "Content-Type"),
        ({"json": {"seed": "x" * 70_000}}, 413, "64 KB"),
    ]
    for kwargs, status, message in cases:
        response = client.post("/api/generate/text", **kwargs)
        assert response.status_code == status and message in response.json()["error"], (kwargs, response.text)
    chunked = client.post("/api/generate/text", content=io.BytesIO(b"{" + b" " * 70_000 + b"}"),
                          headers={"content-type": "application/json"})  # no Content-Length: counted as it comes
    assert chunked.status_code == 413
    method = client.get("/api/generate/text")
    assert method.status_code == 405 and "not allowed" in method.json()["error"]


def test_concurrent_text_requests_keep_their_own_outputs(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four clients at once, each several times in a row: each gets its own text, the same as it
    gets alone, though every request samples from the one loaded module (the sampler copies the
    weights out and never runs the module, so nothing is copied per request)."""
    import seqgen.serve.stream

    shared = client.app.state.catalog.get(TEXT_RUN).model
    models: list[object] = []

    def spy(model, *args, **kwargs):
        models.append(model)
        return sample_text(model, *args, **kwargs)

    names = ["ROMEO", "JULIET", "NURSE", "MERCUTIO"]
    seeds = {name: f"{name}:" + " O gentle night, number 7 is the one we keep." * 20 for name in names}
    alone = {name: generate_text(client, seed=seeds[name], length=50, num_samples=2, random_seed=i)[0]
             for i, name in enumerate(names)}
    monkeypatch.setattr(seqgen.serve.stream, "sample_text", spy)
    results: dict[str, list[list[str]]] = {name: [] for name in names}
    errors: list[BaseException] = []

    def ask(name: str) -> None:
        seed = seeds[name]
        try:
            for round_ in range(8):
                fixed = round_ % 2 == 1  # every other request with the random seed it had alone
                texts = generate_text(client, seed=seed, length=50, num_samples=2,
                                      random_seed=names.index(name) if fixed else None)[0]
                assert all(t.startswith(seed) and len(t) == len(seed) + 50 for t in texts)
                if fixed:
                    assert texts == alone[name]
                results[name].append(texts)
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=ask, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert all(len(results[name]) == 8 for name in names)
    assert len(models) == 32 and all(m is shared for m in models)


def test_keep_and_rank_send_the_best_samples_with_their_scores(client: TestClient) -> None:
    body = {"seed": "ROMEO:", "length": 20, "num_samples": 4, "random_seed": 3}
    drawn, _ = generate_text(client, **body)
    texts, done = generate_text(client, **body, keep=2, rank="novelty")
    assert texts == drawn  # every sample streams while it is drawn
    assert len(done["kept"]) == len(done["texts"]) == 2
    assert done["texts"] == [drawn[score["sample"]] for score in done["kept"]]
    copied = [score["copied"] for score in done["kept"]]
    assert copied == sorted(copied) and all(score["unit"] == "chars" and score["nll"] > 0 for score in done["kept"])
    _, plain = generate_text(client, **body, keep=None, rank=None)  # null: no ranking
    assert "kept" not in plain and len(plain["texts"]) == 4
    response = client.post("/api/generate/music", json={"checkpoint": MUSIC_RUN, "length": 30, "num_samples": 3,
                                                        "keep": 2, "rank": "balanced", "random_seed": 1})
    assert response.status_code == 200, response.text
    samples = response.json()["samples"]
    assert len(samples) == 2 and all(s["score"]["unit"] == "notes" and s["score"]["nll"] > 0 for s in samples)


def test_text_with_no_seed_starts_a_new_document(client: TestClient) -> None:
    texts, done = generate_text(client, seed="", length=15, random_seed=2)
    assert len(texts[0]) == 15 and done["texts"] == texts
    assert generate_text(client, seed="\n", length=15, random_seed=2)[0] == ["\n" + texts[0]]
    assert generate_text(client, length=15, random_seed=2)[0] == texts  # a missing seed is the same


def test_listing_gives_the_library_defaults_and_requests_get_them(client: TestClient) -> None:
    defaults = client.get("/api/checkpoints").json()["defaults"]
    settings = SamplingSettings()
    assert defaults == {"length": DEFAULT_LENGTH, "bars": DEFAULT_BARS, "num_samples": 1,
                        "temperature": settings.temperature, "top_k": settings.top_k, "top_p": settings.top_p}
    texts, _ = generate_text(client, seed="R", random_seed=1)  # no length: the library's default
    assert len(texts[0]) == 1 + DEFAULT_LENGTH
    texts, _ = generate_text(client, seed="R", random_seed=1, length=DEFAULT_LENGTH, temperature=settings.temperature,
                             top_k=settings.top_k, top_p=settings.top_p, num_samples=1)
    assert len(texts[0]) == 1 + DEFAULT_LENGTH  # the same request spelled out


def test_too_many_generations_at_once_get_429(runs: Path) -> None:
    app = create_app(runs)
    with TestClient(app, base_url=LOCAL) as client:
        for _ in range(MAX_ACTIVE):
            app.state.slots.take()
        response = client.post("/api/generate/text", json={"checkpoint": TEXT_RUN, "seed": "R", "length": 5})
        assert response.status_code == 429 and "already running" in response.json()["error"]
        app.state.slots.give()
        again = client.post("/api/generate/text", json={"checkpoint": TEXT_RUN, "seed": "R", "length": 5})
        assert again.status_code == 200


def test_serve_command_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--checkpoints", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "Error: no checkpoint folder" in result.output
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--checkpoints", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1 port {port}" in result.output
    assert "--port" in CliRunner().invoke(main, ["serve", "--help"]).output
