"""The playground's tests share one pair of tiny trained runs (training them is most of the cost)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tiny_runs import LOCAL, build_runs

from seqgen.serve.app import create_app


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``checkpoints/`` with the runs ``tiny_runs.TEXT_RUN`` and ``tiny_runs.MUSIC_RUN``; read only."""
    return build_runs(tmp_path_factory.mktemp("server"))


@pytest.fixture
def client(runs: Path):
    with TestClient(create_app(runs), base_url=LOCAL, raise_server_exceptions=False) as test_client:
        yield test_client
