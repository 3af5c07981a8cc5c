"""``leadledger etl states`` and ``leadledger etl timeouts``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from tests.etl.conftest import new_row
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
