"""``leadledger etl states`` and ``leadledger etl timeouts``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from tests.etl.conftest import new_organization, new_row
from tests.helpers import scalar
from tests.test_cli import run


def test_states_and_timeouts(db_url: str, conn: psycopg.Connection[Any], org_id: UUID) -> None:
    row_id = new_row(conn, "run_request", org_id, deadline="2000-01-01T00:00:00Z")
    for target in ("valid", "ready", "in_progress"):
        conn.execute("SELECT etl_api.transition_state('run_request', %s, %s)", [row_id, target])
    states = run("etl", "states", url=db_url)
    assert states.returncode == 0, states.stderr
    assert "run_request" in states.stdout
    assert "in_progress" in states.stdout
    moved = run("etl", "timeouts", "--older-than", "30m", url=db_url)
    assert moved.returncode == 0, moved.stderr
    assert "1 rows moved to timedout" in moved.stdout
    assert scalar(conn, "SELECT state::text FROM etl_api.run_request WHERE id = %s", row_id) == "timedout"
    bad = run("etl", "timeouts", "--older-than", "soon", url=db_url)
    assert bad.returncode == 2
    assert "expected a positive duration" in bad.stderr


def test_states_and_timeouts_of_one_organization(
    db_url: str, conn: psycopg.Connection[Any], org_id: UUID
) -> None:
    other = new_organization(conn, "Other")
    mine = new_row(conn, "run_queue", org_id, deadline="2000-01-01T00:00:00Z")
    theirs = new_row(conn, "run_queue", other, deadline="2000-01-01T00:00:00Z")
    new_row(conn, "workflow_request", other)
    for row_id in (mine, theirs):
        for target in ("valid", "ready", "in_progress"):
            conn.execute("SELECT etl_api.transition_state('run_queue', %s, %s)", [row_id, target])
    states = run("etl", "states", "--org", str(org_id), url=db_url)
    assert states.returncode == 0, states.stderr
    assert f"ETL states of organization {org_id}" in states.stdout
    workflow = next(line for line in states.stdout.splitlines() if "workflow_request" in line)
    assert not any(ch.isdigit() for ch in workflow)  # the other organization's workflow is not counted
    moved = run("etl", "timeouts", "--older-than", "30m", "--org", str(org_id), url=db_url)
    assert moved.returncode == 0, moved.stderr
    assert "1 rows moved to timedout" in moved.stdout
    assert scalar(conn, "SELECT state::text FROM etl_api.run_queue WHERE id = %s", mine) == "timedout"
    assert scalar(conn, "SELECT state::text FROM etl_api.run_queue WHERE id = %s", theirs) == "in_progress"
    bad = run("etl", "states", "--org", "acme", url=db_url)
    assert bad.returncode == 2
    assert "--org" in bad.stderr
