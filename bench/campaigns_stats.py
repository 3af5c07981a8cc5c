"""``update_campaign_statistics`` at 1k / 10k / 100k businesses in one campaign, against the bare
aggregate it runs (the floor).

Three campaigns (1,000, 10,000 and 100,000 businesses, in the same tables) are loaded with COPY:
realistic Apify items kept in raw_data, ~60% with an email, ~30% with a Facebook page, ~10% with
a LinkedIn profile, half of the emails verified deliverable; then ``VACUUM (ANALYZE)`` (what
autovacuum does after a bulk load). Rounds interleave:

* ``update_campaign_statistics`` through ``Database.call`` (advisory lock, the aggregate, the
  UPDATE of the campaign row, the envelope), on a connection that serves only that campaign;
* the same, on a connection that first served the 100k campaign: after 5 calls PostgreSQL's plan
  cache may switch the function's statements to a generic plan, built for the average campaign
  (a sequential scan), which every later campaign of that connection then gets;
* the same with ``SET plan_cache_mode = force_custom_plan`` on that connection: what the proposed
  ``SET`` clause on the function would do;
* the function in a second database, loaded alike, with the proposed covering index
  ``(campaign_id) INCLUDE (email_verification_status, email, facebook_url, linkedin_url)``;
* the same aggregate as a bare ``SELECT`` on a plain connection.

The function's totals are checked against what was loaded.

    python -m bench.campaigns_stats      # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any

import psycopg

from bench.campaigns_common import (
    Expected,
    campaign_database,
    create_campaign,
    fmt_ms,
    load_businesses,
    pooled,
    print_table,
    sql_fingerprint,
)
from bench.common import percentile_ms, server_label, server_url, timed
from leadledger.db import Database

SIZES = (1000, 10000, 100000)
ROUNDS = 15
WARMUP = 3

AGGREGATE = """
SELECT b.total_businesses, b.total_emails, b.total_facebook_pages, b.total_linkedin_profiles,
       b.total_verified_emails, c.zips_total, c.zips_scraped, c.zips_failed
  FROM (SELECT count(*)::integer AS total_businesses,
               count(email)::integer AS total_emails,
               count(facebook_url)::integer AS total_facebook_pages,
               count(linkedin_url)::integer AS total_linkedin_profiles,
               (count(*) FILTER (WHERE email_verification_status = 'deliverable'))::integer
                   AS total_verified_emails
          FROM gmaps_businesses WHERE campaign_id = %(id)s) b,
       (SELECT count(*)::integer AS zips_total,
               (count(*) FILTER (WHERE status = 'scraped'))::integer AS zips_scraped,
               (count(*) FILTER (WHERE status = 'failed'))::integer AS zips_failed
          FROM gmaps_campaign_coverage WHERE campaign_id = %(id)s) c
"""


FRESH = "update_campaign_statistics without the covering index"
PRIMED = "the same, on a connection that served the 100k campaign first"
FORCED = "the same, connection also SETs plan_cache_mode = force_custom_plan"
INDEXED = "update_campaign_statistics as shipped (covering index)"
BARE = "bare aggregate SELECT"
METHODS = (FRESH, PRIMED, FORCED, INDEXED, BARE)
PRIMING_CALLS = 8  # more than the 5 custom plans after which the plan cache may go generic


def main() -> None:
    fingerprint = sql_fingerprint()
    with (
        server_url() as url,
        campaign_database(url) as db_url,
        campaign_database(url) as indexed_url,
    ):
        label = server_label(url)
        with ExitStack() as stack:
            conn = stack.enter_context(psycopg.connect(db_url, autocommit=True))
            indexed_conn = stack.enter_context(psycopg.connect(indexed_url, autocommit=True))
            # The migration ships the covering index (adopted from this benchmark's proposal);
            # the first database drops it to show what it buys.
            conn.execute("DROP INDEX gmaps_businesses_statistics_idx")
            campaigns, expected = load(stack, db_url, conn)
            indexed_campaigns, _ = load(stack, indexed_url, indexed_conn)
            plans = {}
            for size, campaign_id in campaigns.items():
                plan = conn.execute("EXPLAIN " + AGGREGATE, {"id": campaign_id}).fetchall()
                plans[size] = next(line for (line,) in plan if "gmaps_businesses" in line).strip(" ->")

            # one connection per campaign that serves only that campaign, and two that first
            # serve the largest campaign, one of them with the proposed plan_cache_mode
            fresh = {size: stack.enter_context(pooled(db_url, 1)) for size in SIZES}
            indexed = {size: stack.enter_context(pooled(indexed_url, 1)) for size in SIZES}
            primed = stack.enter_context(pooled(db_url, 1))
            forced = stack.enter_context(pooled(db_url, 1))
            with forced.pool.connection() as forced_conn:
                forced_conn.execute("SET plan_cache_mode = force_custom_plan")
            for db in (primed, forced):
                for _ in range(PRIMING_CALLS):
                    db.call("update_campaign_statistics", p_campaign_id=campaigns[max(SIZES)])

            samples: dict[tuple[int, str], list[float]] = {}
            for size, campaign_id in campaigns.items():
                methods: dict[str, Callable[[], None]] = {
                    FRESH: partial(refresh, fresh[size], campaign_id, expected[size]),
                    PRIMED: partial(refresh, primed, campaign_id, expected[size]),
                    FORCED: partial(refresh, forced, campaign_id, expected[size]),
                    INDEXED: partial(refresh, indexed[size], indexed_campaigns[size], expected[size]),
                    BARE: partial(bare, conn, campaign_id),
                }
                for fn in methods.values():
                    for _ in range(WARMUP):
                        fn()
                for round_no in range(ROUNDS):
                    order = list(methods.items())
                    order = order[round_no % len(order) :] + order[: round_no % len(order)]
                    for method, fn in order:
                        samples.setdefault((size, method), []).append(timed(fn))

        print(f"# update_campaign_statistics, {label}, median of {ROUNDS}; {fingerprint}")
        rows: list[list[str]] = []
        for size in SIZES:
            floor = statistics.median(samples[(size, BARE)])
            for method in METHODS:
                got = samples[(size, method)]
                median = statistics.median(got)
                rows.append(
                    [
                        f"{size:,}",
                        method,
                        fmt_ms(median),
                        f"{percentile_ms(got, 95):.1f}",
                        f"{median / floor:.2f}x",
                    ]
                )
        print_table(["businesses", "method", "median ms", "p95 ms", "vs bare SELECT"], rows)
        for size in SIZES:
            print(f"# plan of the bare SELECT at {size:,}: {plans[size]}")


def load(
    stack: ExitStack, db_url: str, conn: psycopg.Connection[Any]
) -> tuple[dict[int, uuid.UUID], dict[int, Expected]]:
    """The three campaigns (the same rows in every database: same seeds), then VACUUM (ANALYZE)."""
    creator = stack.enter_context(pooled(db_url, 1))
    campaigns: dict[int, uuid.UUID] = {}
    expected: dict[int, Expected] = {}
    for seed, size in enumerate(SIZES, start=1):
        campaigns[size] = create_campaign(creator, f"statistics {size}", zips=10)
        expected[size] = load_businesses(conn, campaigns[size], size, seed)
    for table in ("gmaps_businesses", "gmaps_campaign_coverage", "gmaps_campaigns"):
        conn.execute(f"VACUUM (ANALYZE) {table}")
    return campaigns, expected


def refresh(db: Database, campaign_id: uuid.UUID, expected: Expected) -> None:
    result = db.call("update_campaign_statistics", p_campaign_id=campaign_id)
    got = (
        result["total_businesses"],
        result["total_emails"],
        result["total_facebook_pages"],
        result["total_linkedin_profiles"],
        result["total_verified_emails"],
    )
    assert got == (
        expected.businesses,
        expected.emails,
        expected.facebook,
        expected.linkedin,
        expected.deliverable,
    )


def bare(conn: psycopg.Connection[Any], campaign_id: uuid.UUID) -> None:
    conn.execute(AGGREGATE, {"id": campaign_id}).fetchone()


if __name__ == "__main__":
    main()
