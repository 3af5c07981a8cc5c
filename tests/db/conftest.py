from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

PROBE_SQL = (Path(__file__).parent / "probe.sql").read_text()


@pytest.fixture
def probe(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """The test database with the probe functions of probe.sql installed."""
    conn.execute(PROBE_SQL.encode())
    return conn
