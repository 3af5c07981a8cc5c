"""The schema the migrations build, diffed against the canonical one in tests/db/schema.txt.

Every table, column, constraint, function (signature, result, language, volatility, security,
settings and grants), type and trigger is one readable line there, so a change to the public
contract shows up in review as a diff of that file (bodies are reviewed in the SQL files).
After an intended change, regenerate it:

    LEADLEDGER_UPDATE_SCHEMA=1 .venv/bin/pytest tests/db/test_schema.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg

from leadledger.db.migrations import META_SCHEMA
from tests.helpers import catalog_snapshot

CANONICAL = Path(__file__).parent / "schema.txt"


def test_migrations_build_the_canonical_schema(conn: psycopg.Connection[Any]) -> None:
    built = catalog_snapshot(conn, exclude=(META_SCHEMA,), exact=False)
    if os.environ.get("LEADLEDGER_UPDATE_SCHEMA") == "1":
        CANONICAL.write_text("\n".join(built) + "\n")
    canonical = CANONICAL.read_text().splitlines()
    missing = sorted(set(canonical) - set(built))
    unexpected = sorted(set(built) - set(canonical))
    assert (missing, unexpected) == ([], []), (
        "schema differs from tests/db/schema.txt (regenerate with LEADLEDGER_UPDATE_SCHEMA=1 if intended)"
    )
