"""The error envelope and the SQLSTATE mapping, hit through real operations."""

from __future__ import annotations

import os
import threading
from typing import Any

import psycopg
import pytest

from leadledger.db import (
    BusinessRuleError,
    Database,
    DuplicateRecordError,
    OperationFailedError,
    ReferencedRecordNotFoundError,
    RetryableConflictError,
    ValidationError,
)


def envelope(conn: psycopg.Connection[Any], query: str, *params: Any) -> dict[str, Any]:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


def count_items(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM probe_item").fetchone()
    assert row is not None
    return int(row[0])


def test_success_envelope(probe: psycopg.Connection[Any]) -> None:
    assert envelope(probe, "SELECT probe_insert(3, 1)") == {"success": True, "id": 3}


def test_23505_duplicate(probe: psycopg.Connection[Any]) -> None:
    result = envelope(probe, "SELECT probe_insert(1, 1)")
    assert result == {
        "success": False,
        "error": "Duplicate record detected",
        "error_code": "23505",
        "error_detail": 'duplicate key value violates unique constraint "probe_item_pkey" '
        "(Key (id)=(1) already exists.)",
        "retry_recommended": False,
    }


def test_23503_referenced_record(probe: psycopg.Connection[Any]) -> None:
    result = envelope(probe, "SELECT probe_insert(5, 99)")
    assert result["error"] == "Referenced record not found"
    assert result["error_code"] == "23503"
    assert result["retry_recommended"] is False
    assert "probe_item_parent_id_fkey" in result["error_detail"]
    assert count_items(probe) == 2


def test_p0001_keeps_the_functions_message(probe: psycopg.Connection[Any]) -> None:
    result = envelope(probe, "SELECT probe_raise('P0001', 'Campaign is final')")
    assert result == {
        "success": False,
        "error": "Campaign is final",
        "error_code": "P0001",
        "error_detail": "Campaign is final (probe detail)",  # the marker is not shown
        "retry_recommended": False,
    }
    assert count_items(probe) == 2  # the insert before the RAISE was rolled back


def test_raised_23503_keeps_its_own_message(probe: psycopg.Connection[Any]) -> None:
    result = envelope(probe, "SELECT probe_raise('23503', 'Campaign not found')")
    assert result["error"] == "Campaign not found"
    assert result["error_code"] == "23503"


def test_a_bare_raise_is_not_taken_for_the_functions_own(probe: psycopg.Connection[Any]) -> None:
    result = envelope(probe, "SELECT probe_bare_raise('23503', 'Campaign not found')")
    assert result["error"] == "Referenced record not found"


def _speak_german(conn: psycopg.Connection[Any]) -> None:
    """Switch the session's server messages to German, or skip where that cannot be done."""
    required = os.environ.get("LEADLEDGER_TEST_REQUIRE_EXTENSIONS") == "1"
    try:
        conn.execute("SET lc_messages = 'de_DE.UTF-8'")
    except psycopg.errors.InvalidParameterValue:
        if required:
            raise
        pytest.skip("the de_DE.UTF-8 locale is not installed (.ci/run installs it for PostgreSQL 15)")
    with pytest.raises(psycopg.errors.DivisionByZero) as info:
        conn.execute("SELECT 1/0")
    if "Null" not in str(info.value):
        pytest.skip("this server has no translated messages (built without NLS, as the embedded one)")


def test_the_envelope_does_not_depend_on_the_server_language(probe: psycopg.Connection[Any]) -> None:
    """Under German messages, a function's own error keeps its message, an engine error gets
    the generic text, and the field named by bad input is still named."""
    _speak_german(probe)
    own = envelope(probe, "SELECT probe_raise('23503', 'Campaign not found')")
    engine = envelope(probe, "SELECT probe_insert(5, 99)")
    bad = envelope(probe, "SELECT probe_insert(-4, 1)")
    assert own["error"] == "Campaign not found"
    assert engine["error"] == "Referenced record not found"
    assert "Fremdschlüssel" in engine["error_detail"]  # the server really spoke German
    assert bad["error"] == "p_id: must be a positive integer"
    duplicate = envelope(probe, "SELECT probe_insert(1, 1)")
    assert duplicate["error"] == "Duplicate record detected"


def test_bad_input_is_22023_naming_the_field(probe: psycopg.Connection[Any]) -> None:
    result = envelope(probe, "SELECT probe_insert(-4, 1)")
    assert result == {
        "success": False,
        "error": "p_id: must be a positive integer",
        "error_code": "22023",
        "error_detail": "p_id: must be a positive integer",
        "retry_recommended": False,
    }
    assert count_items(probe) == 2


def test_anything_else_is_operation_failed(probe: psycopg.Connection[Any]) -> None:
    result = envelope(probe, "SELECT probe_insert(7, 1, -1)")  # CHECK violation, 23514
    assert result["error"] == "Database operation failed"
    assert result["error_code"] == "23514"
    assert result["retry_recommended"] is False
    assert "probe_item_qty_check" in result["error_detail"]


def test_55p03_lock_timeout_is_retryable(probe: psycopg.Connection[Any], db_url: str) -> None:
    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT 1 FROM probe_item WHERE id = 1 FOR UPDATE")
        result = envelope(probe, "SELECT probe_lock_one(1)")
        holder.rollback()
    assert result["error"] == "Operation conflict, please retry"
    assert result["error_code"] == "55P03"
    assert result["retry_recommended"] is True


def test_40001_serialization_failure_is_retryable(probe: psycopg.Connection[Any], db_url: str) -> None:
    with psycopg.connect(db_url) as reader:
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        reader.execute("SELECT qty FROM probe_item WHERE id = 1")  # takes the snapshot
        probe.execute("UPDATE probe_item SET qty = qty + 1 WHERE id = 1")  # commits
        result = envelope(reader, "SELECT probe_bump(1)")
        reader.rollback()
    assert result["error"] == "Operation conflict, please retry"
    assert result["error_code"] == "40001"
    assert result["retry_recommended"] is True


def _deadlock_pair(database: Database, attempts: int) -> list[BaseException | dict[str, Any]]:
    results: list[BaseException | dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def run(first: int, second: int) -> None:
        barrier.wait()
        try:
            results.append(
                database.call(
                    "probe_lock_pair", p_first=first, p_second=second, p_pause=0.3, attempts=attempts
                )
            )
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_40p01_deadlock_envelope_raises_retryable(probe: psycopg.Connection[Any], database: Database) -> None:
    results = _deadlock_pair(database, attempts=1)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    error = errors[0]
    assert isinstance(error, RetryableConflictError)
    assert error.error_code == "40P01"
    assert error.message == "Operation conflict, please retry"
    assert "deadlock detected" in (error.error_detail or "")


def test_40p01_deadlock_is_retried_until_both_succeed(
    probe: psycopg.Connection[Any], database: Database
) -> None:
    results = _deadlock_pair(database, attempts=5)
    assert all(isinstance(r, dict) and r["success"] for r in results), results
    row = probe.execute("SELECT sum(qty) FROM probe_item WHERE id IN (1, 2)").fetchone()
    assert row is not None
    assert row[0] == 4  # each call bumped both rows exactly once: the loser's first try left nothing


def test_lock_conflict_retried_until_the_lock_is_released(
    probe: psycopg.Connection[Any], db_url: str, database: Database
) -> None:
    holder = psycopg.connect(db_url)
    holder.execute("SELECT 1 FROM probe_item WHERE id = 1 FOR UPDATE")
    release = threading.Timer(0.5, holder.rollback)
    release.start()
    try:
        result = database.call("probe_lock_one", p_id=1, attempts=10)
    finally:
        release.join()
        holder.close()
    assert result == {"success": True, "id": 1}


def test_lock_conflict_gives_up_after_the_attempts(
    probe: psycopg.Connection[Any], db_url: str, database: Database
) -> None:
    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT 1 FROM probe_item WHERE id = 1 FOR UPDATE")
        with pytest.raises(RetryableConflictError) as info:
            database.call("probe_lock_one", p_id=1, attempts=2)
        holder.rollback()
    assert info.value.error_code == "55P03"
    assert info.value.function == "probe_lock_one"


@pytest.mark.parametrize(
    ("call", "cls", "code"),
    [
        ({"p_id": 1, "p_parent_id": 1}, DuplicateRecordError, "23505"),
        ({"p_id": 9, "p_parent_id": 42}, ReferencedRecordNotFoundError, "23503"),
        ({"p_id": 0, "p_parent_id": 1}, ValidationError, "22023"),
        ({"p_id": 9, "p_parent_id": 1, "p_qty": -2}, ValidationError, "23514"),
    ],
)
def test_client_raises_typed_errors(
    probe: psycopg.Connection[Any], database: Database, call: dict[str, Any], cls: type[Exception], code: str
) -> None:
    with pytest.raises(cls) as info:
        database.call("probe_insert", **call)
    assert getattr(info.value, "error_code", None) == code


def test_client_raises_business_rule_and_operation_failed(
    probe: psycopg.Connection[Any], database: Database
) -> None:
    with pytest.raises(BusinessRuleError, match="not allowed"):
        database.call("probe_raise", p_sqlstate="P0001", p_message="not allowed")
    with pytest.raises(OperationFailedError) as info:
        database.call("probe_raise", p_sqlstate="XX001", p_message="odd")
    assert info.value.error_code == "XX001"


def test_raised_sqlstate_is_mapped_and_keeps_the_cause(
    probe: psycopg.Connection[Any], database: Database
) -> None:
    with pytest.raises(DuplicateRecordError) as info:
        database.call("probe_insert_raw", p_id=1)
    assert info.value.error_code == "23505"
    assert isinstance(info.value.__cause__, psycopg.errors.UniqueViolation)
