"""The CLI, run as a user runs it: a subprocess, its exit status and its output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from leadledger import __version__
from leadledger.db.migrations import META_SCHEMA, discover
from tests.helpers import scalar


def run(
    *args: str, url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"LEADLEDGER_DATABASE_URL", "DATABASE_URL"}}
    if url is not None:
        environ["LEADLEDGER_DATABASE_URL"] = url
    environ.update(env or {})
    environ["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "leadledger", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"leadledger {__version__}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "invalid database URL"),
        ("mysql://root@127.0.0.1/x", "scheme 'mysql' is not postgresql://"),
        ("postgresql://postgres@127.0.0.1:notaport/x", "invalid database URL"),
        ("postgresql://postgres@127.0.0.1:1/x", "cannot connect to the database"),
    ],
)
@pytest.mark.parametrize("command", [["db", "status"], ["db", "up"], ["db", "url"], ["demo"]])
def test_bad_or_unreachable_url_is_one_line_and_exit_2(url: str, message: str, command: list[str]) -> None:
    result = run(*command, url=url)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "invalid database URL"),
        ("mysql://root@127.0.0.1/x", "scheme 'mysql' is not postgresql://"),
        ("postgresql://postgres@127.0.0.1:notaport/x", "invalid database URL"),
    ],
)
def test_serve_with_a_bad_url_is_one_line_and_exit_2(url: str, message: str) -> None:
    result = run("serve", "--port", "1", url=url)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert message in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_with_the_database_down_starts_and_reports_503() -> None:
    """A server that is down is not a configuration error: the service runs and says so."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in {"LEADLEDGER_DATABASE_URL", "DATABASE_URL"}}
    environ["LEADLEDGER_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/x"
    with subprocess.Popen(
        [sys.executable, "-m", "leadledger", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as server:
        try:
            for _ in range(300):  # up to about a minute for the service to listen
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
                    break
                except httpx.TransportError:
                    assert server.poll() is None, "the service exited"
                    time.sleep(0.2)
            else:
                pytest.fail("the service did not start")
            assert response.status_code == 503
            assert response.json()["reason"].startswith("database unavailable")
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_database_url_alias_is_read() -> None:
    result = run("db", "status", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"})
    assert result.returncode == 2
    assert "127.0.0.1" in result.stderr


def test_bad_setting_is_one_line_and_exit_2() -> None:
    result = run("db", "status", env={"LEADLEDGER_POOL_MAX_SIZE": "lots"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: invalid setting pool_max_size")


def test_db_up_status_down_through_the_cli(empty_db_url: str) -> None:
    up = run("db", "up", url=empty_db_url)
    assert up.returncode == 0, up.stderr
    assert f"applied {discover()[0].filename}" in up.stdout
    again = run("db", "up", url=empty_db_url)
    assert "nothing to apply" in again.stdout
    status = run("db", "status", url=empty_db_url)
    assert status.returncode == 0
    assert discover()[0].version in status.stdout
    assert "ok" in status.stdout
    url = run("db", "url", url=empty_db_url)
    assert url.stdout.strip() == empty_db_url
    down = run("db", "down", "--to", "0", url=empty_db_url)
    assert down.returncode == 0, down.stderr
    with psycopg.connect(empty_db_url) as conn:
        assert scalar(conn, "SELECT to_regnamespace(%s)", META_SCHEMA) is None
        assert scalar(conn, "SELECT to_regnamespace('leadledger')") is None


def test_checksum_tamper_is_refused_by_the_cli(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {META_SCHEMA}.schema_migrations SET checksum = 'tampered'")
    result = run("db", "up", url=db_url)
    assert result.returncode == 2
    assert "was changed after it was applied" in result.stderr


def test_demo_on_a_given_database_twice(empty_db_url: str) -> None:
    result = run("demo", url=empty_db_url)
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout
    assert discover()[-1].version in result.stdout
    assert "Austin dentists" in result.stdout
    assert "WhatsApp stand-in received 2 outgoing messages" in result.stdout
    assert "mark_timedout: 1 run past its deadline moved to timedout" in result.stdout
    # Two organizations that cannot see each other.
    assert result.stdout.count("lists only its own campaign and lead") == 2
    assert result.stdout.count("and lead: HTTP 404, 404 (a campaign that does not exist: HTTP 404)") == 2
    assert "revokes it: the next request with it is HTTP 401" in result.stdout
    again = run("demo", url=empty_db_url)  # the walk-through can be repeated on the same database
    assert again.returncode == 0, again.stderr
