"""Batch insert of Google Maps results: ``insert_businesses_batch`` versus the ways it replaces.

N realistic Apify Google Maps Scraper items (unique place ids every time) go into a fresh
campaign (so every row is an insert), by each method in turn, rounds interleaved:

* ``insert_businesses_batch``: ``Database.call`` with the items as they are, one statement;
* per-row: the application maps each item in Python and sends one
  ``INSERT ... ON CONFLICT (campaign_id, place_id) DO UPDATE`` per business on one autocommit
  connection (one round trip and one commit each; psycopg prepares it after 5 uses);
* per-row, one transaction: the same statements through ``executemany`` (pipelined) inside one
  transaction, to separate the cost of the commits from the cost of the statements;
* COPY: the same mapping, then ``COPY gmaps_businesses (...) FROM STDIN`` (the floor);
* ``insert_businesses_batch`` again, in a second database that has the covering index proposed for
  ``update_campaign_statistics`` (what that index would cost the writes).

Every method writes the same 22 columns, raw_data included. Before each measurement the
tables are truncated and the method loads 10 untimed rows into another campaign (so each starts
from the same state, with its plans cached as in steady state).

    python -m bench.campaigns_batch      # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import itertools
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg

from bench.campaigns_common import (
    BUSINESS_COLUMNS,
    apify_items,
    business_row,
    campaign_database,
    copy_statement,
    create_campaign,
    fmt_int,
    fmt_ms,
    organization_of,
    pooled,
    print_table,
    sql_fingerprint,
)
from bench.common import server_label, server_url, timed
from leadledger.db import Database

SIZES = (10, 100, 1000, 10000)
ROUNDS = {10: 9, 100: 7, 1000: 5, 10000: 3}
ZIP = "78701"
WARMUP_ROWS = 10

_UPDATES = ", ".join(
    f"{c} = coalesce(excluded.{c}, b.{c})"
    for c in BUSINESS_COLUMNS
    if c
    not in ("campaign_id", "place_id", "zip_code", "email", "email_source", "raw_data", "organization_id")
)
PER_ROW_INSERT = (
    f"INSERT INTO gmaps_businesses AS b ({', '.join(BUSINESS_COLUMNS)})"
    f" VALUES ({', '.join(['%s'] * len(BUSINESS_COLUMNS))})"
    f" ON CONFLICT (campaign_id, place_id) DO UPDATE SET {_UPDATES},"
    " email = CASE WHEN excluded.email IS NOT NULL AND (b.email IS NULL OR b.email_source = 'google_maps')"
    " THEN excluded.email ELSE b.email END,"
    " email_source = CASE WHEN excluded.email IS NOT NULL"
    " AND (b.email IS NULL OR b.email_source = 'google_maps') THEN 'google_maps' ELSE b.email_source END,"
    " raw_data = excluded.raw_data, updated_at = now()"
)

BATCH = "insert_businesses_batch"
PER_ROW = "per-row INSERT, autocommit"
PER_ROW_TX = "per-row INSERT, one transaction (executemany)"
COPY = "COPY"
BATCH_INDEXED = "insert_businesses_batch as shipped (with the statistics index)"
METHODS = (BATCH, PER_ROW, PER_ROW_TX, COPY, BATCH_INDEXED)

Loader = Callable[[uuid.UUID, list[dict[str, Any]]], None]


@dataclass(frozen=True)
class Target:
    """Where a method writes: its database's pool (campaigns, the function) and admin connection."""

    db: Database
    admin: psycopg.Connection[Any]


def main() -> None:
    fingerprint = sql_fingerprint()
    with (
        server_url() as url,
        campaign_database(url) as db_url,
        campaign_database(url) as indexed_url,
    ):
        label = server_label(url)
        with (
            pooled(db_url, 1) as db,
            pooled(indexed_url, 1) as indexed_db,
            psycopg.connect(db_url, autocommit=True) as conn,
            psycopg.connect(db_url, autocommit=True) as admin,
            psycopg.connect(indexed_url, autocommit=True) as indexed_admin,
        ):
            # The covering statistics index ships with the migration; the plain database drops it.
            admin.execute("DROP INDEX gmaps_businesses_statistics_idx")
            plain, indexed = Target(db, admin), Target(indexed_db, indexed_admin)

            def batch_into(target: Target) -> Loader:
                def batch(campaign_id: uuid.UUID, items: list[dict[str, Any]]) -> None:
                    result = target.db.call(
                        "insert_businesses_batch",
                        p_campaign_id=campaign_id,
                        p_zip_code=ZIP,
                        p_businesses=items,
                    )
                    assert result["inserted"] == len(items), result

                return batch

            def per_row(campaign_id: uuid.UUID, items: list[dict[str, Any]]) -> None:
                organization = organization_of(conn, campaign_id)
                with conn.cursor() as cur:
                    for item in items:
                        cur.execute(PER_ROW_INSERT, business_row(campaign_id, item, ZIP, organization))

            def per_row_one_transaction(campaign_id: uuid.UUID, items: list[dict[str, Any]]) -> None:
                organization = organization_of(conn, campaign_id)
                with conn.transaction(), conn.cursor() as cur:
                    rows = [business_row(campaign_id, item, ZIP, organization) for item in items]
                    cur.executemany(PER_ROW_INSERT, rows)

            def copy(campaign_id: uuid.UUID, items: list[dict[str, Any]]) -> None:
                organization = organization_of(conn, campaign_id)
                with conn.cursor() as cur, cur.copy(copy_statement(BUSINESS_COLUMNS)) as cp:
                    for item in items:
                        cp.write_row(business_row(campaign_id, item, ZIP, organization))

            loaders: dict[str, tuple[Loader, Target]] = {
                BATCH: (batch_into(plain), plain),
                PER_ROW: (per_row, plain),
                PER_ROW_TX: (per_row_one_transaction, plain),
                COPY: (copy, plain),
                BATCH_INDEXED: (batch_into(indexed), indexed),
            }
            samples: dict[tuple[int, str], list[float]] = {}
            seed = itertools.count(1)
            for size in SIZES:
                for round_no in range(ROUNDS[size]):
                    # rotate the order each round so drift and checkpoints hit every method alike
                    order = METHODS[round_no % len(METHODS) :] + METHODS[: round_no % len(METHODS)]
                    for method in order:
                        loader, target = loaders[method]
                        # the same starting state for every method: empty tables, then a small
                        # untimed load by the same method (plans cached again, as in steady state)
                        target.admin.execute("TRUNCATE gmaps_campaigns CASCADE")
                        loader(create_campaign(target.db, "warm-up"), apify_items(WARMUP_ROWS, next(seed)))
                        campaign_id = create_campaign(target.db, f"batch {size} {method}")
                        items = apify_items(size, next(seed))
                        seconds = timed(partial(loader, campaign_id, items))
                        row = target.admin.execute(
                            "SELECT count(*) FROM gmaps_businesses WHERE campaign_id = %s", [campaign_id]
                        ).fetchone()
                        assert row is not None
                        assert row[0] == size, (method, row)
                        samples.setdefault((size, method), []).append(seconds)

        print(f"# batch insert of Apify Google Maps items, {label}; {fingerprint}")
        print(f"# medians of {', '.join(f'{ROUNDS[s]} rounds at {s:,}' for s in SIZES)}; fresh campaign each")
        rows: list[list[str]] = []
        for size in SIZES:
            base = statistics.median(samples[(size, METHODS[0])])
            for method in METHODS:
                median = statistics.median(samples[(size, method)])
                rows.append(
                    [f"{size:,}", method, fmt_ms(median), fmt_int(size / median), f"{median / base:.2f}x"]
                )
        print_table(["rows", "method", "median ms", "rows/s", "time vs batch"], rows)
        print()
        summary: list[list[str]] = []
        for size in SIZES:
            med = {m: statistics.median(samples[(size, m)]) for m in METHODS}
            summary.append(
                [
                    f"{size:,}",
                    f"{med[PER_ROW] / med[BATCH]:.1f}x",
                    f"{med[PER_ROW_TX] / med[BATCH]:.1f}x",
                    f"{med[BATCH] / med[COPY]:.2f}x",
                    f"{med[PER_ROW] / med[COPY]:.1f}x",
                    f"{med[BATCH_INDEXED] / med[BATCH] - 1:+.0%}",
                ]
            )
        print_table(
            [
                "rows",
                "batch speed-up vs per-row autocommit (target >= 20x at 1,000)",
                "vs per-row one transaction",
                "batch time / COPY time (target <= 3x)",
                "COPY speed-up vs per-row autocommit",
                "cost of the statistics index",
            ],
            summary,
        )


if __name__ == "__main__":
    main()
