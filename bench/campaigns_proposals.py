"""Copies of campaign functions with a proposed change, created in a benchmark's own database
(from ``pg_get_functiondef`` of the migrated function, under another name), so that a benchmark
can measure a proposal next to the function as it is. The migrations are not touched.

Each builder returns the name of the function it created, or None when the migrated function's
text no longer has the shape the change was written against (the benchmark then skips it).
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

TRACK_SIGNATURE = "public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb)"


def _definition(admin: psycopg.Connection[Any], signature: str) -> str:
    row = admin.execute("SELECT pg_get_functiondef(%s::regprocedure)", [signature]).fetchone()
    assert row is not None
    text: str = row[0]
    return text


def _rename(text: str, old: str, new: str) -> tuple[str, int]:
    return re.subn(rf"public\.{old}\(", f"public.{new}(", text)


def track_without_exception_block(admin: psycopg.Connection[Any]) -> str | None:
    """track_campaign_cost without its EXCEPTION WHEN OTHERS block, so without the subtransaction
    every call opens (and writes in) while it holds the campaign row's lock."""
    name = "bench_track_campaign_cost_proposed"
    text, found = re.subn(
        r"\n\s*EXCEPTION\s+WHEN\s+OTHERS\s+THEN.*?(?=\n\s*END\s*\$function\$)",
        "",
        _definition(admin, TRACK_SIGNATURE),
        flags=re.S,
    )
    text, named = _rename(text, "track_campaign_cost", name)
    if found != 1 or named != 1:
        return None
    admin.execute(text)
    return name
