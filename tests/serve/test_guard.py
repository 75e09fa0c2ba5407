"""The Host header check against DNS rebinding: only the names the server is reachable as."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from starlette.testclient import TestClient

import seqgen.serve
from seqgen.cli import main
from seqgen.serve.app import create_app, serve

LOOPBACK_HOSTS = ["127.0.0.1:8000", "127.0.0.1", "127.0.0.2:8000", "127.255.255.254", "localhost:8000", "LocalHost",
                  "[::1]:8000", "[0:0:0:0:0:0:0:1]"]
FOREIGN_HOSTS = ["attacker.example:8000", "127.0.0.1.attacker.example", "localhost.attacker.example", "192.168.1.5",
                 "[::2]:8000", "10.0.0.1:8000", ""]


def statuses(app: object, hosts: list[str]) -> dict[str, int]:
    """Host header -> the status of GET /api/checkpoints sent with it."""
    with TestClient(app, raise_server_exceptions=False) as client:
        return {host: client.get("/api/checkpoints", headers={"host": host}).status_code for host in hosts}


@pytest.mark.parametrize("bind", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_a_loopback_server_accepts_every_loopback_name_and_nothing_else(tmp_path: Path, bind: str) -> None:
    got = statuses(create_app(tmp_path, bind), LOOPBACK_HOSTS + FOREIGN_HOSTS)
    assert got == {**{h: 200 for h in LOOPBACK_HOSTS}, **{h: 400 for h in FOREIGN_HOSTS}}


def test_a_server_on_another_address_accepts_that_address_only(tmp_path: Path) -> None:
    got = statuses(create_app(tmp_path, "192.168.1.5"), ["192.168.1.5:8000", "192.168.1.5", "localhost:8000",
                                                         "127.0.0.1:8000", "attacker.example:8000"])
    assert got == {"192.168.1.5:8000": 200, "192.168.1.5": 200, "localhost:8000": 400, "127.0.0.1:8000": 400,
                   "attacker.example:8000": 400}
    with TestClient(create_app(tmp_path, "192.168.1.5")) as client:
        refused = client.get("/", headers={"host": "attacker.example"})
        assert refused.status_code == 400 and "--allow-host" in refused.json()["error"]
        assert "192.168.1.5" in refused.json()["error"]
        assert "default-src 'self'" in refused.headers["content-security-policy"]
    v6 = statuses(create_app(tmp_path, "fd00::5"), ["[fd00::5]:8000", "[FD00:0::5]", "[fd00::6]"])
    assert v6 == {"[fd00::5]:8000": 200, "[FD00:0::5]": 200, "[fd00::6]": 400}


def test_allowed_names_are_added(tmp_path: Path) -> None:
    app = create_app(tmp_path, "0.0.0.0", ["Play.LAN", "192.168.1.5"])
    got = statuses(app, ["play.lan:8000", "192.168.1.5", "127.0.0.1:8000", "localhost", "attacker.example", "play"])
    assert got == {"play.lan:8000": 200, "192.168.1.5": 200, "127.0.0.1:8000": 200, "localhost": 200,
                   "attacker.example": 400, "play": 400}


def test_the_serve_command_passes_allowed_names_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr(seqgen.serve, "serve", lambda *args, **kwargs: seen.update(args=args, kwargs=kwargs))
    result = CliRunner().invoke(main, ["serve", "--checkpoints", str(tmp_path), "--allow-host", "a.lan",
                                       "--allow-host", "b.lan"])
    assert result.exit_code == 0, result.output
    assert tuple(seen["kwargs"]["allow_hosts"]) == ("a.lan", "b.lan")
    assert "--allow-host" in CliRunner().invoke(main, ["serve", "--help"]).output


def test_serving_on_another_loopback_address_is_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.2 is this machine too: no warning, and the loopback names are accepted."""
    apps: list[object] = []

    def run(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        apps.append(server.config.app)
        for sock in sockets:
            sock.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    lines: list[str] = []
    serve(tmp_path, "127.0.0.2", 0, echo=lines.append)
    assert len(lines) == 1 and "http://127.0.0.2:" in lines[0], lines
    assert statuses(apps[0], ["127.0.0.2:8000", "localhost", "attacker.example"]) == {
        "127.0.0.2:8000": 200, "localhost": 200, "attacker.example": 400}
