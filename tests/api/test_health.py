"""GET /api/health, with the database up and down."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leadledger.api import create_app
from leadledger.db.migrations import discover
from tests.conftest import make_settings


def test_health_up(db_url: str) -> None:
    app = create_app(make_settings(db_url), database_url=db_url)
    with TestClient(app) as client:
        response = client.get("/api/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["migration_version"] == discover()[-1].version
    assert body["database"]["server_version"]
    assert body["database"]["latency_ms"] >= 0
    assert body["pool"]["pool_max"] == 8
    assert body["reason"] is None


def test_health_down() -> None:
    url = "postgresql://postgres@127.0.0.1:1/x"
    app = create_app(make_settings(url, health_timeout=0.5), database_url=url)
    with TestClient(app) as client:
        response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("database unavailable")
    assert response.headers["retry-after"]
