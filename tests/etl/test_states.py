"""The ETL state machine through the Python client: transitions, the guard, races, timeouts,
legacy mapping, the logger; and the Python model against the database."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from leadledger.db import BusinessRuleError, Database, ReferencedRecordNotFoundError, ValidationError
from leadledger.etl.client import EtlClient
from leadledger.etl.models import TRANSITIONS, EtlState, StateTable
from tests.conftest import make_settings
from tests.etl.conftest import new_row
from tests.helpers import scalar

PATH = [EtlState.VALID, EtlState.READY, EtlState.IN_PROGRESS, EtlState.DONE, EtlState.DELIVERED]


@pytest.mark.parametrize("table", list(StateTable))
def test_python_states_match_each_database_enum(conn: psycopg.Connection[Any], table: StateTable) -> None:
    labels = scalar(conn, f"SELECT enum_range(NULL::etl_api.{table.value}_state)::text[]")
    assert labels == [state.value for state in EtlState]


def test_python_transitions_match_the_database_for_all_100_pairs(conn: psycopg.Connection[Any]) -> None:
    for source, target in itertools.product(EtlState, EtlState):
        allowed = scalar(conn, "SELECT etl_api.is_valid_state_transition(%s, %s)", source.value, target.value)
        assert allowed == (target in TRANSITIONS.get(source, frozenset())), (source, target)


@pytest.mark.parametrize("table", list(StateTable))
def test_happy_path_with_history(
    database: Database, conn: psycopg.Connection[Any], org_id: UUID, table: StateTable
) -> None:
    row_id = new_row(conn, table.value, org_id)
    client = EtlClient(database)
    for target in PATH:
        moved = client.transition(table, row_id, target, substate=f"step-{target.value}", reason="test")
        assert moved.to_state is target
    history = conn.execute(
        "SELECT from_state, to_state FROM etl_api.state_history WHERE row_id = %s ORDER BY id", [row_id]
    ).fetchall()
    assert [h[1] for h in history] == [s.value for s in PATH]
    assert history[0][0] == "new"
    assert scalar(conn, f"SELECT state::text FROM etl_api.{table.value} WHERE id = %s", row_id) == "delivered"
    assert scalar(
        conn, "SELECT count(*) FROM etl_api.etl_log WHERE context ->> 'id' = %s", str(row_id)
    ) == len(PATH)


def test_refused_transitions_change_nothing(
    database: Database, conn: psycopg.Connection[Any], org_id: UUID
) -> None:
    row_id = new_row(conn, "run_queue", org_id)
    client = EtlClient(database)
    with pytest.raises(BusinessRuleError, match="Invalid state transition from new to done"):
        client.transition("run_queue", row_id, "done")
    with pytest.raises(ValidationError, match="p_table"):
        client.transition("campaigns", row_id, "valid")
    with pytest.raises(ValidationError, match="p_to"):
        client.transition("run_queue", row_id, "finished")
    with pytest.raises(ReferencedRecordNotFoundError):
        client.transition("run_queue", uuid4(), "valid")
    assert scalar(conn, "SELECT state::text FROM etl_api.run_queue WHERE id = %s", row_id) == "new"
    assert scalar(conn, "SELECT count(*) FROM etl_api.state_history") == 0
    assert (
        scalar(conn, "SELECT count(*) FROM etl_api.etl_log WHERE level = 'warning'") == 4
    )  # refusals are logged


def test_direct_update_of_the_state_column_is_refused(conn: psycopg.Connection[Any], org_id: UUID) -> None:
    row_id = new_row(conn, "activity_request", org_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"only through etl_api\.transition_state"):
        conn.execute("UPDATE etl_api.activity_request SET state = 'done' WHERE id = %s", [row_id])
    conn.execute("UPDATE etl_api.activity_request SET priority = 5 WHERE id = %s", [row_id])
    assert scalar(conn, "SELECT state::text FROM etl_api.activity_request WHERE id = %s", row_id) == "new"


def race(client: EtlClient, row_id: UUID, targets: list[EtlState]) -> list[EtlState | Exception]:
    """Every target at once, one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(targets))
    outcomes: list[EtlState | Exception] = []
    lock = threading.Lock()

    def attempt(target: EtlState) -> None:
        barrier.wait()
        try:
            result: EtlState | Exception = client.transition("activity_request", row_id, target).to_state
        except Exception as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.slow
def test_racing_transitions_exactly_one_wins(
    db_url: str, conn: psycopg.Connection[Any], org_id: UUID
) -> None:
    """Many callers at once, each trying a different exit from in_progress: exactly one wins."""
    with Database(db_url, make_settings(db_url, pool_max_size=12)) as database:
        database.open()
        client = EtlClient(database)
        for round_ in range(5):
            row_id = new_row(conn, "activity_request", org_id)
            for target in (EtlState.VALID, EtlState.READY, EtlState.IN_PROGRESS):
                client.transition("activity_request", row_id, target)
            targets = [EtlState.DONE, EtlState.FAILED, EtlState.TIMEDOUT] * 4
            outcomes = race(client, row_id, targets)
            winners = [o for o in outcomes if isinstance(o, EtlState)]
            assert len(winners) == 1, (round_, outcomes)
            assert all(isinstance(o, BusinessRuleError) for o in outcomes if not isinstance(o, EtlState))
            final = scalar(conn, "SELECT state::text FROM etl_api.activity_request WHERE id = %s", row_id)
            assert final == winners[0].value
            last = scalar(
                conn,
                "SELECT to_state FROM etl_api.state_history WHERE row_id = %s ORDER BY id DESC LIMIT 1",
                row_id,
            )
            assert last == final
            assert scalar(conn, "SELECT count(*) FROM etl_api.state_history WHERE row_id = %s", row_id) == 4


def test_mark_timedout(database: Database, conn: psycopg.Connection[Any], org_id: UUID) -> None:
    client = EtlClient(database)
    late = new_row(conn, "run_request", org_id, deadline="2000-01-01T00:00:00Z")
    stale = new_row(conn, "workflow_request", org_id)
    fresh = new_row(conn, "activity_request", org_id)
    idle = new_row(conn, "run_queue", org_id, deadline="2000-01-01T00:00:00Z")  # stays in new: not touched
    for table, row_id in (("run_request", late), ("workflow_request", stale), ("activity_request", fresh)):
        for target in (EtlState.VALID, EtlState.READY, EtlState.IN_PROGRESS):
            client.transition(table, row_id, target)
    conn.execute(
        "UPDATE etl_api.workflow_request SET state_changed_at = now() - interval '2 hours' WHERE id = %s",
        [stale],
    )
    assert client.mark_timedout(timedelta(minutes=30)) == 2
    states = dict(
        conn.execute(
            "SELECT id, state || '/' || coalesce(state_substate, '') FROM etl_api.all_states"
        ).fetchall()
    )
    assert states[late] == "timedout/deadline"
    assert states[stale] == "timedout/stale"
    assert states[fresh] == "in_progress/"
    assert states[idle] == "new/"
    assert client.mark_timedout(timedelta(minutes=30)) == 0
    with pytest.raises(ValidationError, match="p_older_than"):
        client.mark_timedout(timedelta(0))
    counts = {(c.table_name, c.state): c.rows for c in client.state_counts()}
    assert counts[(StateTable.RUN_REQUEST, EtlState.TIMEDOUT)] == 1


def test_legacy_mapping_and_logger(database: Database) -> None:
    client = EtlClient(database)
    assert client.map_legacy_status("ACTIVITY_PROCESSED").state is EtlState.READY
    mapped = client.map_legacy_status("invalid_missing_value")
    assert (mapped.state, mapped.substate) == (EtlState.INVALID, "missing_value")
    with pytest.raises(ValidationError, match="unknown legacy status 'archived'"):
        client.map_legacy_status("archived")
    assert client.log("error", "source down", {"source": "apify"}) > 0
    with pytest.raises(ValidationError, match="p_level"):
        client.log("loud", "x")


def test_stuck_rows_are_listed_most_overdue_first(
    database: Database, conn: psycopg.Connection[Any], org_id: UUID
) -> None:
    client = EtlClient(database)
    older = new_row(conn, "run_queue", org_id, deadline="2000-01-01T00:00:00Z")
    newer = new_row(conn, "workflow_request", org_id, deadline="2020-01-01T00:00:00Z")
    new_row(conn, "activity_request", org_id, deadline="2000-01-01T00:00:00Z")  # still new: not stuck
    for table, row_id in (("run_queue", older), ("workflow_request", newer)):
        for target in (EtlState.VALID, EtlState.WAITING):
            client.transition(table, row_id, target)
    stuck = database.fetch("etl_api.get_stuck_rows", p_limit=10)
    assert [(r["table_name"], r["id"]) for r in stuck] == [("run_queue", older), ("workflow_request", newer)]
    assert all(r["state"] == "waiting" for r in stuck)
