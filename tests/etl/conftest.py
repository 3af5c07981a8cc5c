from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest


def new_organization(conn: psycopg.Connection[Any], name: str = "Acme") -> UUID:
    """A new organization; its etl_api.org row follows it (etl_api.org_follows_organization)."""
    row = conn.execute("INSERT INTO public.organizations (name) VALUES (%s) RETURNING id", [name]).fetchone()
    assert row is not None
    return UUID(str(row[0]))


@pytest.fixture
def org_id(conn: psycopg.Connection[Any]) -> UUID:
    return new_organization(conn)


def new_row(conn: psycopg.Connection[Any], table: str, org_id: UUID, **columns: Any) -> UUID:
    """Insert a row into one of the four ETL tables (type columns filled in)."""
    defaults = {
        "activity_request": {"activity_type": "enrich"},
        "run_queue": {"run_type": "fetch"},
        "run_request": {"source": "apify"},
        "workflow_request": {"workflow_type": "enrichment"},
    }[table]
    values = {"org_id": org_id, **defaults, **columns}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    row = conn.execute(
        f"INSERT INTO etl_api.{table} ({names}) VALUES ({marks}) RETURNING id", list(values.values())
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))
