"""The ETL walk-through of ``leadledger demo``: one activity through the state machine, a refused
transition, a timeout, and the state counts."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import psycopg
from rich.console import Console

from leadledger.db import BusinessRuleError, Database
from leadledger.etl.client import EtlClient
from leadledger.etl.models import EtlState


def run(db: Database, console: Console) -> None:
    console.rule("etl: the state machine")
    client = EtlClient(db)
    with psycopg.connect(db.url, autocommit=True) as conn:
        row = conn.execute(
            "WITH org AS (INSERT INTO etl_api.org (name) VALUES ('Demo org') RETURNING id)"
            " INSERT INTO etl_api.activity_request (org_id, activity_type, payload, deadline)"
            " SELECT id, 'linkedin_enrichment', '{\"business\": \"Bright Smile Dental\"}',"
            "        now() + interval '1 hour'"
            " FROM org RETURNING id, org_id"
        ).fetchone()
        assert row is not None
        activity, org = UUID(str(row[0])), UUID(str(row[1]))
        stuck = conn.execute(
            "INSERT INTO etl_api.run_queue (org_id, run_type, deadline)"
            " VALUES (%s, 'fetch', now() - interval '5 minutes') RETURNING id",
            [org],
        ).fetchone()
        assert stuck is not None
    path = [EtlState.VALID, EtlState.READY, EtlState.IN_PROGRESS, EtlState.DONE, EtlState.DELIVERED]
    for state in path:
        client.transition("activity_request", activity, state, reason="demo")
    console.print("activity: new -> " + " -> ".join(state.value for state in path))
    try:
        client.transition("activity_request", activity, EtlState.IN_PROGRESS)
    except BusinessRuleError as exc:
        console.print(f"refused, the row unchanged: {exc.message}")
    for state in (EtlState.VALID, EtlState.READY, EtlState.IN_PROGRESS):
        client.transition("run_queue", UUID(str(stuck[0])), state)
    moved = client.mark_timedout(timedelta(minutes=30))
    console.print(f"mark_timedout: {moved} run past its deadline moved to timedout")
    counts = ", ".join(f"{c.table_name.value}.{c.state.value}={c.rows}" for c in client.state_counts())
    console.print(f"state counts: {counts}")
