"""Checkpoints are written atomically and loaded safely."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from seqgen.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from seqgen.errors import SeqgenError


class Payload:
    """Unpickling this would create a file: the classic code-execution checkpoint."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_round_trip(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.pt", {"model": {"w": torch.ones(2)}, "config": {"a": 1}})
    payload = load_checkpoint(tmp_path / "c.pt")
    assert payload["format_version"] == FORMAT_VERSION and payload["config"] == {"a": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_pickle_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "model": Payload(str(marker))}, path)
    with pytest.raises(SeqgenError, match="not a safe seqgen checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    # A plain pickle file (not torch's zip format) is refused as well.
    path.write_bytes(pickle.dumps(Payload(str(marker))))
    with pytest.raises(SeqgenError):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable checkpoint"),
    (b"hello, I am text", "not a readable checkpoint"),
])
def test_garbage_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "x.pt").write_bytes(content)
    with pytest.raises(SeqgenError, match=message):
        load_checkpoint(tmp_path / "x.pt")


def test_truncated_and_foreign_and_future_files(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.pt", {"model": {"w": torch.ones(1000)}})
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(SeqgenError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(SeqgenError, match="not a seqgen checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save({"format_version": FORMAT_VERSION + 1, "model": {}}, tmp_path / "new.pt")
    with pytest.raises(SeqgenError, match="newer than this seqgen understands"):
        load_checkpoint(tmp_path / "new.pt")


def test_failed_write_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "step": 1})

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(SeqgenError, match="No space left on device"):
        save_checkpoint(path, {"model": {"w": torch.ones(3)}, "step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_full_disk_inside_torch_save_keeps_the_previous_checkpoint(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # torch's zip writer reports a full disk as a RuntimeError, not an OSError.
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "step": 1})

    def disk_full(*_args, **_kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . unexpected pos 64 vs 0\nmore detail")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(SeqgenError, match=r"could not write checkpoint .*last.pt: disk full or write failed "
                                          r"\(.*unexpected pos 64 vs 0\)$"):
        save_checkpoint(path, {"model": {"w": torch.ones(3)}, "step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
