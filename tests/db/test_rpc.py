"""The call path: statement building, timeouts, connection loss, async, PostgREST-style calls."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from leadledger.db import (
    AsyncDatabase,
    Database,
    DatabaseUnavailableError,
    DuplicateRecordError,
    StatementTimeoutError,
)
from leadledger.db.errors import exception_class_for, is_retryable, wrap_exception
from leadledger.db.rpc import adapt, build_call, unwrap
from tests.conftest import make_settings


def test_build_call_uses_named_arguments(conn: psycopg.Connection[Any]) -> None:
    statement, values = build_call("etl_api.transition_state", {"p_id": 1, "p_to": "done"}, rows=False)
    assert statement.as_string(conn) == 'SELECT "etl_api"."transition_state"("p_id" := %s, "p_to" := %s)'
    assert values == [1, "done"]
    statement, _ = build_call("probe_items", {"p_parent_id": 1}, rows=True)
    assert statement.as_string(conn) == 'SELECT * FROM "probe_items"("p_parent_id" := %s)'


@pytest.mark.parametrize("name", ["", "Drop", "a;b", "a.b.c", "x y", 'f"', "1abc"])
def test_build_call_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid function name"):
        build_call(name, {}, rows=False)
    with pytest.raises(ValueError, match="invalid parameter name"):
        build_call("fn", {name or "-": 1}, rows=False)


def test_adapt() -> None:
    assert isinstance(adapt({"a": 1}), Jsonb)
    assert isinstance(adapt([1, 2]), Jsonb)
    assert adapt(0.1) == Decimal("0.1")
    assert adapt("x") == "x"


def test_unwrap_passes_success_and_wraps_non_envelopes() -> None:
    assert unwrap("f", {"success": True, "n": 1}) == {"success": True, "n": 1}
    assert unwrap("f", 5) == {"success": True, "result": 5}


def test_sqlstate_mapping_table() -> None:
    assert exception_class_for("53300").retryable
    assert exception_class_for("57P01").retryable
    assert exception_class_for("22P02").__name__ == "ValidationError"
    assert exception_class_for("42P01").__name__ == "OperationFailedError"
    assert exception_class_for(None).__name__ == "OperationFailedError"


def test_call_and_fetch(probe: psycopg.Connection[Any], database: Database) -> None:
    assert database.call("probe_insert", p_id=10, p_parent_id=2) == {"success": True, "id": 10}
    assert database.fetch("probe_items", p_parent_id=2) == [{"id": 10, "qty": 0}]


def test_runaway_call_is_stopped_and_reported(probe: psycopg.Connection[Any], db_url: str) -> None:
    with Database(db_url, make_settings(db_url, statement_timeout=0.5)) as database:
        database.open()
        with pytest.raises(StatementTimeoutError) as info:
            database.call("probe_sleep", p_seconds=30)
    assert info.value.error_code == "57014"
    assert "statement timeout" in info.value.message
    # Not left running: the server has no backend still executing the call.
    row = probe.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%probe_sleep%' AND pid <> pg_backend_pid()"
        " AND state = 'active'"
    ).fetchone()
    assert row is not None
    assert row[0] == 0


def test_per_call_statement_timeout(probe: psycopg.Connection[Any], database: Database) -> None:
    with pytest.raises(StatementTimeoutError):
        database.call("probe_sleep", p_seconds=30, statement_timeout=0.3)
    assert database.call("probe_sleep", p_seconds=0.01) == {"success": True, "slept": Decimal("0.01")}


def test_lost_connection_is_retried_on_a_new_one(probe: psycopg.Connection[Any], database: Database) -> None:
    assert database.call("probe_insert", p_id=20, p_parent_id=1)["success"]
    # Terminate every pooled connection's backend: the next call meets a dead connection (57P01
    # or a closed socket), which is retryable, and succeeds on a fresh one.
    probe.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'leadledger'"
    )
    time.sleep(0.2)
    assert database.call("probe_insert", p_id=21, p_parent_id=1, attempts=3)["success"]


def test_connection_errors_are_unavailable_and_retryable() -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect("postgresql://postgres@127.0.0.1:1/x", connect_timeout=2)
    error = wrap_exception(info.value)
    assert isinstance(error, DatabaseUnavailableError)
    assert is_retryable(error)


def test_unreachable_server_gives_up_after_attempts() -> None:
    url = "postgresql://postgres@127.0.0.1:1/x"
    settings = make_settings(url, pool_timeout=0.3, connect_timeout=1)
    with Database(url, settings) as database:
        database.open()
        with pytest.raises(DatabaseUnavailableError):
            database.call("anything", attempts=2)


@pytest.mark.anyio
async def test_async_call_fetch_and_errors(
    probe: psycopg.Connection[Any], async_database: AsyncDatabase
) -> None:
    assert await async_database.call("probe_insert", p_id=30, p_parent_id=2) == {"success": True, "id": 30}
    assert await async_database.fetch("probe_items", p_parent_id=2) == [{"id": 30, "qty": 0}]
    with pytest.raises(DuplicateRecordError):
        await async_database.call("probe_insert", p_id=30, p_parent_id=2)
    with pytest.raises(StatementTimeoutError):
        await async_database.call("probe_sleep", p_seconds=30, statement_timeout=0.3)


def test_postgrest_style_call_as_service_role(probe: psycopg.Connection[Any], db_url: str) -> None:
    """What PostgREST does for rpc(): a transaction, role and claims set locally, named args."""
    claims = json.dumps({"role": "leadledger_service", "sub": "00000000-0000-0000-0000-000000000001"})
    with psycopg.connect(db_url) as c:
        c.execute("SELECT set_config('role', 'leadledger_service', true)")
        c.execute("SELECT set_config('request.jwt.claims', %s, true)", [claims])
        row = c.execute("SELECT public.probe_insert(p_id := 40, p_parent_id := 1)").fetchone()
        c.commit()
    assert row is not None
    assert row[0] == {"success": True, "id": 40}


def test_execute_is_revoked_from_public(probe: psycopg.Connection[Any], db_url: str) -> None:
    probe.execute("DROP ROLE IF EXISTS lltest_nobody")
    probe.execute("CREATE ROLE lltest_nobody")
    try:
        with psycopg.connect(db_url) as c:
            c.execute("SET ROLE lltest_nobody")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute("SELECT public.probe_insert(p_id := 41, p_parent_id := 1)")
    finally:
        probe.execute("DROP ROLE lltest_nobody")
