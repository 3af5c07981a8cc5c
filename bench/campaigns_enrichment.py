"""Enrichment calls before and after a change of the campaign SQL, measured in one run.

Two databases on one server: ``candidate`` is migrated with the campaign SQL of this checkout,
``baseline`` with the same migrations as they were at a git revision (``--baseline``, default: the
commit before proposal P6 was adopted, found by its subject). Both get the same 14,000 COPY-loaded
businesses and then the same calls, alternating baseline and candidate call by call so that the
machine's noise falls on both alike: ``update_enrichment_batch`` with 1, 10, 100 and 1,000
Facebook items and ``save_facebook_enrichment`` / ``save_linkedin_enrichment`` for one business.
Every call enriches businesses no call has touched before. Medians, and candidate/baseline.

    python -m bench.campaigns_enrichment [--baseline REV]    # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg

from bench.campaigns_common import (
    CAMPAIGN_PACKAGES,
    create_campaign,
    fmt_ms,
    load_businesses,
    pooled,
    print_table,
    sql_fingerprint,
)
from bench.common import commit_before, git, migrated_database, migrations_at, server_label, server_url
from leadledger.db import Database
from leadledger.db.migrations import Migration, MigrationRunner

P6_SUBJECT = "Campaign enrichment: evaluate the items once per call"
BUSINESSES = 14_000
#: (label, items per call, calls per side)
BATCHES = ((1, 200), (10, 100), (100, 30), (1000, 5))
SINGLE_CALLS = 200


@dataclasses.dataclass
class Side:
    """One database: its pool, its campaign and the businesses no call has enriched yet."""

    db: Database
    campaign: uuid.UUID
    fresh: list[uuid.UUID]


@contextmanager
def loaded(url: str, migrations: list[Migration] | None, label: str) -> Iterator[Side]:
    """A database migrated with ``migrations`` (a past revision's, functions included), or with
    today's migrations and current state (None); one campaign of BUSINESSES businesses, a pool."""
    with migrated_database(url, migrate=False) as db_url:
        with psycopg.connect(db_url, autocommit=True) as conn:
            if migrations is None:
                MigrationRunner(conn).upgrade()
            else:
                MigrationRunner(conn, migrations, current=[]).upgrade()
        with pooled(db_url, 1) as db:
            campaign = create_campaign(db, f"enrichment bench ({label})")
            with psycopg.connect(db_url, autocommit=True) as conn:
                load_businesses(conn, campaign, BUSINESSES, seed=7)
                conn.execute("VACUUM (ANALYZE)")
                ids = [r[0] for r in conn.execute("SELECT id FROM gmaps_businesses ORDER BY id").fetchall()]
            yield Side(db, campaign, ids)


def facebook_item(business_id: uuid.UUID) -> dict[str, Any]:
    return {
        "business_id": str(business_id),
        "facebook_url": f"https://facebook.com/p{business_id.hex[:10]}",
        "page_name": "Summit Plumbing",
        "emails": [f"owner@{business_id.hex[:8]}.example.com"],
        "phone_numbers": ["+1 512 555 0100"],
        "status": "enriched",
        "raw_data": {"likes": 120, "category": "Plumber"},
    }


def linkedin_item() -> dict[str, Any]:
    return {
        "linkedin_url": "https://linkedin.com/company/summit",
        "company": {"name": "Summit Plumbing", "size": "11-50", "industry": "Construction"},
        "person": {"name": "Dana Reyes", "title": "Owner"},
        "emails": ["dana@summit.example.com"],
        "status": "enriched",
    }


Call = Callable[[Side], None]


def batch_call(size: int) -> Call:
    def call(side: Side) -> None:
        items = [facebook_item(side.fresh.pop()) for _ in range(size)]
        result = side.db.call("update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=items)
        assert result["updated"] == size, result

    return call


def save_call(kind: str) -> Call:
    def call(side: Side) -> None:
        business_id = side.fresh.pop()
        item = facebook_item(business_id) if kind == "facebook" else linkedin_item()
        item.pop("business_id", None)
        side.db.call(
            f"save_{kind}_enrichment",
            p_business_id=business_id,
            p_campaign_id=side.campaign,
            p_enrichment=item,
        )

    return call


def alternate(sides: dict[str, Side], call: Call, n: int) -> dict[str, float]:
    """Median seconds per side, the sides alternating call by call (2 untimed calls each first)."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(n + 2):
        for name, side in sides.items():
            started = time.perf_counter()
            call(side)
            if i >= 2:
                samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(s) for name, s in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision of the baseline SQL (default: before P6)")
    args = parser.parse_args(argv)
    baseline = args.baseline or commit_before(P6_SUBJECT)
    baseline_label = git("rev-parse", "--short", baseline).strip()
    with server_url() as url, ExitStack() as stack:
        print(f"## Enrichment calls, baseline {baseline_label} vs this checkout — {server_label(url)}")
        print(f"({sql_fingerprint()})\n")
        sides = {
            "baseline": stack.enter_context(
                loaded(url, migrations_at(baseline, CAMPAIGN_PACKAGES), "baseline")
            ),
            "candidate": stack.enter_context(loaded(url, None, "candidate")),
        }
        rows: list[list[str]] = []
        workloads: list[tuple[str, Call, int]] = [
            (f"`update_enrichment_batch`, {size} items", batch_call(size), n) for size, n in BATCHES
        ]
        workloads += [
            ("`save_facebook_enrichment`", save_call("facebook"), SINGLE_CALLS),
            ("`save_linkedin_enrichment`", save_call("linkedin"), SINGLE_CALLS),
        ]
        for label, call, n in workloads:
            medians = alternate(sides, call, n)
            rows.append(
                [
                    label,
                    str(n),
                    fmt_ms(medians["baseline"]),
                    fmt_ms(medians["candidate"]),
                    f"{medians['baseline'] / medians['candidate']:.2f}x",
                ]
            )
        print_table(["call", "calls per side", "baseline ms", "candidate ms", "speed-up"], rows)


if __name__ == "__main__":
    main()
