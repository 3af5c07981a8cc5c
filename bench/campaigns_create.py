"""Campaign creation: ``create_campaign_with_coverage`` versus the application-level way.

A campaign with N ZIP codes (objects ``{zip_code, keywords, max_results, estimated_cost}``),
rounds interleaved:

* ``create_campaign_with_coverage``: ``Database.call``, one statement (validation, both inserts
  and the cost sum in the function's transaction);
* Python, one INSERT per ZIP: validate in Python, then in one transaction insert the campaign
  (``RETURNING id``) and send one INSERT per ZIP (a round trip each), then commit;
* Python, executemany: the same with the ZIP inserts sent by ``executemany`` (pipelined), to
  show how much of the difference is round trips;
* ``create_campaign_with_coverage`` as it was before proposal P5 (set-based ZIP validation), in a
  second database migrated with the campaign SQL of ``--baseline`` (default: the commit before
  P5's, found by its subject).

    python -m bench.campaigns_create [--baseline REV]    # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import argparse
import re
import statistics
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg

from bench.campaigns_common import (
    CAMPAIGN_PACKAGES,
    campaign_data,
    campaign_database,
    fmt_ms,
    pooled,
    print_table,
    sql_fingerprint,
    zip_items,
)
from bench.common import commit_before, git, migrated_database, migrations_at, server_label, server_url, timed
from leadledger.db import Database
from leadledger.db.migrations import MigrationRunner

ZIP_COUNTS = (1, 10, 100, 500)
ROUNDS = 25
WARMUP = 3
_ZIP = re.compile(r"^[0-9]{5}$")

#: The application-side inserts put a campaign in the default organization, as the function does
#: for the service without one; its coverage follows the campaign.
INSERT_CAMPAIGN = (
    "INSERT INTO gmaps_campaigns (name, description, keywords, location, coverage_profile,"
    " target_zip_count, estimated_cost, organization_id) VALUES (%s, %s, %s, %s, %s, %s, %s,"
    " (SELECT id FROM organizations WHERE is_default)) RETURNING id, organization_id"
)
INSERT_ZIP = (
    "INSERT INTO gmaps_campaign_coverage (campaign_id, zip_code, keywords, max_results, estimated_cost,"
    " organization_id) VALUES (%s, %s, %s, %s, %s, %s)"
)

P5_SUBJECT = "Campaign creation: validate the ZIP list set-based"
BEFORE_P5 = "`create_campaign_with_coverage` before P5"
METHODS = ("create_campaign_with_coverage", "Python, one INSERT per ZIP", "Python, executemany", BEFORE_P5)

Creator = Callable[[dict[str, Any], list[dict[str, Any]]], None]


def validated(campaign: dict[str, Any], zips: list[dict[str, Any]]) -> Decimal:
    """What the application must check before writing (the function checks the same)."""
    if not str(campaign.get("name") or "").strip():
        raise ValueError("name is required")
    if not zips:
        raise ValueError("at least one ZIP")
    seen: set[str] = set()
    for item in zips:
        code = item["zip_code"]
        if not _ZIP.match(code) or code in seen:
            raise ValueError(f"bad or repeated ZIP {code}")
        seen.add(code)
    return sum((Decimal(item.get("estimated_cost", 0)) for item in zips), Decimal(0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision of the 'before P5' SQL (default: before P5)")
    args = parser.parse_args(argv)
    baseline = args.baseline or commit_before(P5_SUBJECT)
    before_p5 = migrations_at(baseline, CAMPAIGN_PACKAGES)
    fingerprint = f"{sql_fingerprint()}; before P5 = {git('rev-parse', '--short', baseline).strip()}"
    with (
        server_url() as url,
        campaign_database(url) as db_url,
        migrated_database(url, migrate=False) as old_url,
    ):
        label = server_label(url)
        with psycopg.connect(old_url, autocommit=True) as old_conn:
            MigrationRunner(old_conn, before_p5, current=[]).upgrade()
        with (
            pooled(db_url, 1) as db,
            pooled(old_url, 1) as old_db,
            psycopg.connect(db_url, autocommit=True) as conn,
        ):

            def function_on(database: Database) -> Creator:
                def create(campaign: dict[str, Any], zips: list[dict[str, Any]]) -> None:
                    result = database.call(
                        "create_campaign_with_coverage", p_campaign_data=campaign, p_zip_codes=zips
                    )
                    assert result["zip_count"] == len(zips)

                return create

            def insert_campaign(
                cur: psycopg.Cursor[Any], campaign: dict[str, Any], zips: list[Any]
            ) -> tuple[uuid.UUID, uuid.UUID]:
                total = validated(campaign, zips)
                row = cur.execute(
                    INSERT_CAMPAIGN,
                    (
                        campaign["name"],
                        campaign["description"],
                        campaign["keywords"],
                        campaign["location"],
                        campaign["coverage_profile"],
                        len(zips),
                        total,
                    ),
                ).fetchone()
                assert row is not None
                return row[0], row[1]

            def zip_row(campaign: tuple[uuid.UUID, uuid.UUID], item: dict[str, Any]) -> tuple[Any, ...]:
                return (
                    campaign[0],
                    item["zip_code"],
                    item["keywords"],
                    item["max_results"],
                    item["estimated_cost"],
                    campaign[1],
                )

            def per_zip(campaign: dict[str, Any], zips: list[dict[str, Any]]) -> None:
                with conn.transaction(), conn.cursor() as cur:
                    created = insert_campaign(cur, campaign, zips)
                    for item in zips:
                        cur.execute(INSERT_ZIP, zip_row(created, item))

            def many(campaign: dict[str, Any], zips: list[dict[str, Any]]) -> None:
                with conn.transaction(), conn.cursor() as cur:
                    created = insert_campaign(cur, campaign, zips)
                    cur.executemany(INSERT_ZIP, [zip_row(created, item) for item in zips])

            creators: dict[str, Creator] = dict(
                zip(METHODS, (function_on(db), per_zip, many, function_on(old_db)), strict=True)
            )
            samples: dict[tuple[int, str], list[float]] = {}
            for count in ZIP_COUNTS:
                zips = zip_items(count)
                for method in METHODS:  # warm-up: plans and prepared statements cached
                    for _ in range(WARMUP):
                        creators[method](campaign_data("warm-up"), zips)
                for round_no in range(ROUNDS):
                    order = METHODS[round_no % len(METHODS) :] + METHODS[: round_no % len(METHODS)]
                    for method in order:
                        creator = creators[method]
                        campaign = campaign_data(f"create {count} {round_no}")
                        samples.setdefault((count, method), []).append(
                            timed(partial(creator, campaign, zips))
                        )

        print(f"# campaign creation with N ZIP codes, {label}, median of {ROUNDS}; {fingerprint}")
        rows: list[list[str]] = []
        for count in ZIP_COUNTS:
            base = statistics.median(samples[(count, METHODS[0])])
            for method in METHODS:
                median = statistics.median(samples[(count, method)])
                rows.append([f"{count:,}", method, fmt_ms(median), f"{median / base:.2f}x"])
        print_table(["ZIPs", "method", "median ms", "time vs function"], rows)


if __name__ == "__main__":
    main()
