"""The catalog of runs when some of them are damaged, and what it keeps loaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from starlette.testclient import TestClient
from tiny_runs import LOCAL, TEXT_RUN

from seqgen.checkpoint import Checkpoint
from seqgen.errors import SeqgenError
from seqgen.serve.app import create_app
from seqgen.serve.catalog import MAX_MODELS, Catalog


def copy_run(runs: Path, folder: Path, change: dict | None = None) -> Path:
    """``folder``/best.pt: the tiny text run's checkpoint, with ``change``'s keys set in its
    payload (a dotted key reaches into the config, e.g. "config.model.layers")."""
    folder.mkdir(parents=True)
    payload = torch.load(runs / TEXT_RUN / "best.pt", weights_only=True)
    for key, value in (change or {}).items():
        *parents, last = key.split(".")
        table = payload
        for part in parents:
            table = table[part]
        table[last] = value
    torch.save(payload, folder / "best.pt")
    return folder / "best.pt"


def test_damaged_runs_are_error_rows_and_the_good_ones_are_listed(runs: Path, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runs"
    copy_run(runs, root / "locked")
    is_file = Path.is_file

    def locked_is_file(path: Path) -> bool:  # a folder without read permission (the tests run as root)
        if path.parent.name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return is_file(path)

    monkeypatch.setattr(Path, "is_file", locked_is_file)
    copy_run(runs, root / "good")
    copy_run(runs, root / "tensor-step", {"step": torch.tensor(6)})  # a tensor where an int belongs
    copy_run(runs, root / "bad-types", {"config.model.layers": "two", "config.model.hidden": torch.tensor(16)})
    whole = copy_run(runs, root / "truncated").read_bytes()
    (root / "truncated" / "best.pt").write_bytes(whole[: len(whole) // 2])
    shutil.copytree(root / "good", os.fsdecode(os.fsencode(root) + b"/caf\xe9"))  # a Latin-1 folder name
    with TestClient(create_app(root), base_url=LOCAL, raise_server_exceptions=False) as client:
        response = client.get("/api/checkpoints")
        assert response.status_code == 200, response.text
        rows = {row["name"]: row for row in response.json()["runs"]}
        assert set(rows) == {"good", "tensor-step", "bad-types", "truncated", "caf?", "locked"}
        assert rows["good"]["step"] == 6 and "error" not in rows["good"]
        assert "Permission denied" in rows["locked"]["error"]
        for name in ("tensor-step", "bad-types", "truncated", "caf?", "locked"):
            assert set(rows[name]) == {"name", "error"} and rows[name]["error"], rows[name]
        assert "not valid UTF-8" in rows["caf?"]["error"]
        assert "Tensor" in rows["tensor-step"]["error"]
        assert any("tensor-step" in r.getMessage() for r in caplog.records)  # an unexpected failure is logged
        for name, message in (("tensor-step", "Tensor"), ("locked", "Permission denied")):
            refused = client.post("/api/generate/text", json={"checkpoint": name, "seed": "R", "length": 3})
            assert refused.status_code == 400 and message in refused.json()["error"], refused.text
        named = client.post("/api/generate/text", content=b'{"checkpoint": "caf\\udce9", "seed": "R"}',
                            headers={"content-type": "application/json"})  # JSON can name a lone surrogate
        assert named.status_code == 400 and "invalid checkpoint name" in named.json()["error"]


def spy_on_loads(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> list[tuple[str, bool]]:
    """(run folder name, whether the catalog's lock was held) for each checkpoint read from now on."""
    calls: list[tuple[str, bool]] = []
    real = Checkpoint.load

    def load(path: Path, *args: object) -> Checkpoint:
        calls.append((Path(path).parent.name, catalog.lock.locked()))
        return real(path, *args)

    monkeypatch.setattr(Checkpoint, "load", load)
    return calls


def test_a_failed_load_is_remembered_until_the_file_changes(runs: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    copy_run(runs, tmp_path / "good")
    broken = copy_run(runs, tmp_path / "broken")
    broken.write_bytes(broken.read_bytes()[:1000])  # truncated
    catalog = Catalog(tmp_path)
    calls = spy_on_loads(monkeypatch, catalog)
    for _ in range(3):
        assert [row["name"] for row in catalog.listing() if "error" in row] == ["broken"]
    with pytest.raises(SeqgenError, match="not a readable checkpoint"):
        catalog.get("broken")
    assert sorted(name for name, _ in calls) == ["broken", "good"]  # each read once
    os.utime(broken, ns=(1, 1))
    catalog.listing()
    assert [name for name, _ in calls].count("broken") == 2  # changed: read again


def test_checkpoints_are_read_outside_the_catalog_lock(runs: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    copy_run(runs, tmp_path / "a")
    copy_run(runs, tmp_path / "b", {"step": torch.tensor(1)})
    catalog = Catalog(tmp_path)
    calls = spy_on_loads(monkeypatch, catalog)
    catalog.listing()
    catalog.get("a")
    assert len(calls) == 2 and not any(locked for _, locked in calls), calls


def test_only_the_most_recently_used_models_stay_loaded(runs: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"run{i}" for i in range(MAX_MODELS + 1)]
    for name in names:
        copy_run(runs, tmp_path / name)
    catalog = Catalog(tmp_path)
    calls = spy_on_loads(monkeypatch, catalog)
    first = {name: catalog.get(name) for name in names}
    assert catalog.get(names[-1]) is first[names[-1]]  # recently used: still loaded
    assert catalog.get(names[0]) is not first[names[0]]  # the least recently used went
    assert len(calls) == MAX_MODELS + 2
    assert len(catalog.listing()) == len(names) and len(calls) == MAX_MODELS + 2  # facts stay known
