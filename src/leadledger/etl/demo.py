"""The ETL walk-through of ``leadledger demo``: one activity of an organization through the state
machine, a refused transition, the same row out of reach of another organization, a timeout, and
the organization's state counts."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import psycopg
from rich.console import Console

from leadledger.db import BusinessRuleError, Database, ReferencedRecordNotFoundError
from leadledger.etl.client import EtlClient
from leadledger.etl.models import EtlState
from leadledger.orgs.client import OrgsClient


def run(db: Database, console: Console) -> None:
    console.rule("etl: the state machine")
    client = EtlClient(db)
    orgs = OrgsClient(db)
    # A new organization each run (its etl_api.org row follows it), so the demo can run again.
    org = orgs.create_organization("Demo ETL organization").organization_id
    neighbour = orgs.create_organization("Demo ETL neighbour").organization_id
    with psycopg.connect(db.url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO etl_api.activity_request (org_id, activity_type, payload, deadline)"
            " VALUES (%s, 'linkedin_enrichment', '{\"business\": \"Bright Smile Dental\"}',"
            "         now() + interval '1 hour') RETURNING id",
            [org],
        ).fetchone()
        assert row is not None
        activity = UUID(str(row[0]))
        stuck = conn.execute(
            "INSERT INTO etl_api.run_queue (org_id, run_type, deadline)"
            " VALUES (%s, 'fetch', now() - interval '5 minutes') RETURNING id",
            [org],
        ).fetchone()
        assert stuck is not None
    path = [EtlState.VALID, EtlState.READY, EtlState.IN_PROGRESS, EtlState.DONE, EtlState.DELIVERED]
    for state in path:
        client.transition("activity_request", activity, state, reason="demo", organization_id=org)
    console.print("activity: new -> " + " -> ".join(state.value for state in path))
    try:
        client.transition("activity_request", activity, EtlState.IN_PROGRESS, organization_id=org)
    except BusinessRuleError as exc:
        console.print(f"refused, the row unchanged: {exc.message}")
    try:
        client.transition("run_queue", UUID(str(stuck[0])), EtlState.VALID, organization_id=neighbour)
    except ReferencedRecordNotFoundError as exc:
        console.print(f"another organization acting on it: {exc.message}")
    for state in (EtlState.VALID, EtlState.READY, EtlState.IN_PROGRESS):
        client.transition("run_queue", UUID(str(stuck[0])), state, organization_id=org)
    moved = client.mark_timedout(timedelta(minutes=30), organization_id=org)
    console.print(f"mark_timedout: {moved} run past its deadline moved to timedout")
    for name, organization in (("the organization", org), ("its neighbour", neighbour)):
        counts = client.state_counts(organization)
        listed = ", ".join(f"{c.table_name.value}.{c.state.value}={c.rows}" for c in counts) or "none"
        console.print(f"state counts of {name}: {listed}")
