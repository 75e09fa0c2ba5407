"""The studio's API beyond generating: token surprise for shading, primer uploads, the DAW fields,
the facts a music card shows (counted from the MIDI file) and the cues about a run's training."""

from __future__ import annotations

import json
from pathlib import Path

import pretty_midi
import pytest
from starlette.testclient import TestClient
from tiny_runs import MUSIC_RUN, TEXT_RUN, write_tunes

from seqgen.scoring import token_nll
from seqgen.serve.catalog import BARELY_TRAINED
from seqgen.serve.outputs import MAX_PRIMER_BYTES


def upload(client: TestClient, name: str, data: bytes, kind: str = "application/octet-stream"):
    return client.post(f"/api/primers?name={name}", content=data, headers={"content-type": kind})


def test_score_gives_each_piece_of_a_text_its_surprise(client: TestClient) -> None:
    text = "ROMEO:\nO gentle night"
    response = client.post("/api/score/text", json={"checkpoint": TEXT_RUN, "text": text})
    assert response.status_code == 200, response.text
    scored = response.json()
    pieces = scored["pieces"]
    assert "".join(p for p, _ in pieces) == text and pieces[0][1] is None
    run = client.app.state.catalog.get(TEXT_RUN)
    expected = token_nll(run.model, run.tokenizer.encode(text))
    assert [n for _, n in pieces[1:]] == pytest.approx(expected.tolist(), abs=1e-3)
    assert scored["nats_per_token"] == pytest.approx(float(expected.mean()), abs=1e-3)


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"checkpoint": TEXT_RUN, "text": ""}, 400, "give a text"),
    ({"checkpoint": TEXT_RUN, "text": "ROMEO\u263a"}, 400, "vocabulary lacks"),
    ({"checkpoint": MUSIC_RUN, "text": "C4"}, 400, "music model"),
    ({"checkpoint": "nope", "text": "R"}, 404, "no run named"),
    ({"checkpoint": TEXT_RUN, "text": "R", "extra": 1}, 400, "unknown field 'extra'"),
])
def test_bad_score_requests_get_a_4xx_message(client: TestClient, body: dict, status: int, message: str) -> None:
    response = client.post("/api/score/text", json=body)
    assert response.status_code == status and message in response.json()["error"], response.text


def test_music_facts_and_notes_match_the_midi_file_with_a_stem_per_voice(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/api/generate/music", json={"checkpoint": MUSIC_RUN, "seed": "C2 C4 E4 G4", "bars": 2,
                                                        "num_samples": 2, "random_seed": 4, "tempo": 90})
    assert response.status_code == 200, response.text
    for sample in response.json()["samples"]:
        path = tmp_path / "s.mid"
        path.write_bytes(client.get(sample["files"]["midi"]).content)
        midi = pretty_midi.PrettyMIDI(str(path))
        assert sample["tracks"] == len(midi.instruments) == len(sample["voices"]) == 2
        assert sample["notes"] == sum(len(i.notes) for i in midi.instruments)
        assert sample["seconds"] == pytest.approx(midi.get_end_time(), abs=1e-3)
        assert sample["tempo"] == 90 and sample["bars"] == 2
        for voice, inst in zip(sample["voices"], midi.instruments):
            assert voice["name"] == inst.name
            assert [n[:3] for n in voice["notes"]] == [[n.pitch, pytest.approx(n.start, abs=1e-3),
                                                        pytest.approx(n.end, abs=1e-3)] for n in inst.notes]
        assert len(sample["stems"]) == 2
        for url in sample["stems"]:
            stem = client.get(url)
            assert stem.headers["content-type"] == "audio/wav" and stem.content[:4] == b"RIFF"


def test_a_primer_is_uploaded_then_continued(client: TestClient, tmp_path: Path) -> None:
    clip = write_tunes(tmp_path / "clips") / "tune2.mid"
    response = upload(client, "clip.mid", clip.read_bytes())
    assert response.status_code == 200, response.text
    primer = response.json()
    assert (primer["name"], primer["tracks"], primer["notes"]) == ("clip.mid", 2, 60) and len(primer["primer"]) == 32
    body = {"checkpoint": MUSIC_RUN, "primer": primer["primer"], "bars": 1, "random_seed": 2}
    whole = client.post("/api/generate/music", json=body)
    assert whole.status_code == 200, whole.text
    assert whole.json()["samples"][0]["notes"] >= 60  # the clip, then what follows it
    new = client.post("/api/generate/music", json={**body, "only_new": True, "tempo": 100})
    assert new.status_code == 200, new.text
    sample = new.json()["samples"][0]
    assert sample["tempo"] == 100 and sample["notes"] < 60  # only the continuation


@pytest.mark.parametrize(("name", "data", "kind", "status", "message"), [
    ("notes.txt", b"C4 E4", "application/octet-stream", 400, "not a music file"),
    ("clip.mid", b"not midi", "application/octet-stream", 400, "could not be read"),
    ("clip.mid", b"", "application/octet-stream", 400, "empty"),
    ("clip.mid", b"x" * (MAX_PRIMER_BYTES + 1), "application/octet-stream", 413, "over 2 MB"),
    ("clip.mid", b"MThd", "text/plain", 415, "application/octet-stream"),
])
def test_bad_primer_uploads_get_a_4xx_message(client: TestClient, name: str, data: bytes, kind: str, status: int,
                                              message: str) -> None:
    response = upload(client, name, data, kind)
    assert response.status_code == status and message in response.json()["error"], response.text


@pytest.mark.parametrize(("change", "message"), [
    ({"primer": "0" * 32}, "upload the file again"),
    ({"only_new": 1}, "only_new must be true or false"),
    ({"only_new": True}, "--only-new keeps what follows a --primer"),
    ({"tempo": 10}, "tempo must be between 20"),
])
def test_bad_daw_fields_get_a_4xx_message(client: TestClient, change: dict, message: str) -> None:
    response = client.post("/api/generate/music", json={"checkpoint": MUSIC_RUN, "bars": 1, **change})
    assert response.status_code == 400 and message in response.json()["error"], response.text


def test_listing_names_the_fields_and_cues_about_training(client: TestClient, runs: Path) -> None:
    data = client.get("/api/checkpoints").json()
    assert {"tempo", "only_new", "primer", "bars"} <= set(data["fields"]["music"])
    assert "stop" in data["fields"]["text"] and "primer" not in data["fields"]["text"]
    listed = {run["name"]: run for run in data["runs"]}
    for name in (TEXT_RUN, MUSIC_RUN):
        rows = [json.loads(line) for line in (runs / name / "metrics.jsonl").read_text().splitlines()]
        points = max(sum("val_loss" in row for row in rows), sum("train_loss" in row for row in rows))
        assert listed[name]["curve_points"] == points == 2 and listed[name]["few_points"]
        assert listed[name]["step"] < BARELY_TRAINED and listed[name]["barely_trained"]
    bpc = min(row["val_bpc"] for row in map(json.loads, (runs / TEXT_RUN / "metrics.jsonl").read_text().splitlines())
              if "val_bpc" in row)
    assert listed[TEXT_RUN]["bits_per_char"] == round(bpc, 4) and listed[MUSIC_RUN]["bits_per_char"] is None
    npq = min(row["val_npq"] for row in map(json.loads, (runs / MUSIC_RUN / "metrics.jsonl").read_text().splitlines())
              if "val_npq" in row)
    assert listed[MUSIC_RUN]["nats_per_quarter"] == round(npq, 4) > 0 and listed[TEXT_RUN]["nats_per_quarter"] is None
