"""Fixtures: one PostgreSQL server per session, one migrated template database, and a fresh
clone of it for every test that asks for ``db_url`` (see docs/decisions.md for the measurement
behind cloning rather than rolling back).

``TEST_DATABASE_URL`` selects the server (any database on it; the fixtures create their own);
without it the session starts an embedded server in a temporary directory and deletes it after.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from leadledger.db import AsyncDatabase, Database, Settings
from leadledger.db.migrations import MigrationRunner

TEST_PREFIX = "lltest"


def url_for(server_url: str, dbname: str) -> str:
    return make_conninfo(server_url, dbname=dbname)


def make_settings(url: str, **overrides: Any) -> Settings:
    """Settings for a test: the given URL, quick retries, nothing read from LEADLEDGER_* env."""
    values: dict[str, Any] = {
        "database_url": url,
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.05,
        "pool_min_size": 0,
        "pool_max_size": 8,
        "health_timeout": 1.0,
        "connect_timeout": 3,
    }
    values.update(overrides)
    return Settings(**values)


def admin(server_url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(server_url, autocommit=True)


def create_database(server_url: str, name: str, template: str | None = None) -> None:
    with admin(server_url) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(stmt)


def drop_database(server_url: str, name: str) -> None:
    with admin(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from leadledger.db.embedded import EmbeddedServer

    # Not under pytest's basetemp: pytest deletes old basetemp folders when other pytest sessions
    # start, which would pull the data directory from under a long-running session's server.
    data_dir = Path(tempfile.mkdtemp(prefix="leadledger-test-pg-")) / "pgdata"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = EmbeddedServer(data_dir, cleanup="delete")
        try:
            yield server.start("postgres")
        finally:
            server.stop()
            shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    name = f"{TEST_PREFIX}_tpl_{os.getpid()}"
    drop_database(server_url, name)
    create_database(server_url, name)
    with psycopg.connect(url_for(server_url, name), autocommit=True) as conn:
        MigrationRunner(conn).upgrade()
    yield name
    drop_database(server_url, name)


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh, fully migrated database for this test alone."""
    name = f"{TEST_PREFIX}_{uuid.uuid4().hex[:12]}"
    create_database(server_url, name, template=template_db)
    yield url_for(server_url, name)
    drop_database(server_url, name)


@pytest.fixture(scope="module")
def shared_db_url(server_url: str, template_db: str) -> Iterator[str]:
    """One migrated database for a whole module: for the many calls that must write nothing."""
    name = f"{TEST_PREFIX}_{uuid.uuid4().hex[:12]}"
    create_database(server_url, name, template=template_db)
    yield url_for(server_url, name)
    drop_database(server_url, name)


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """A fresh database with nothing of leadledger's in it."""
    name = f"{TEST_PREFIX}_empty_{uuid.uuid4().hex[:12]}"
    create_database(server_url, name)
    yield url_for(server_url, name)
    drop_database(server_url, name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def database(db_url: str, settings: Settings) -> Iterator[Database]:
    db = Database(db_url, settings)
    db.open()
    yield db
    db.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def async_database(db_url: str, settings: Settings) -> AsyncIterator[AsyncDatabase]:
    db = AsyncDatabase(db_url, settings)
    await db.open()
    yield db
    await db.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The cross-tenant tally of the run (tests/tenants.py: LEDGER): attempts and leaks."""
    from tests.tenants import LEDGER

    if not LEDGER.attempts:
        return
    total = sum(LEDGER.attempts.values())
    leaks = sum(len(v) for v in LEDGER.leaks.values())
    per = ", ".join(f"{surface} {n}" for surface, n in sorted(LEDGER.attempts.items()))
    terminalreporter.write_line(f"cross-tenant attempts: {total} ({per}); leaks: {leaks}")
    for surface, items in sorted(LEDGER.leaks.items()):
        for item in items:
            terminalreporter.write_line(f"  LEAK {surface}: {item}")
