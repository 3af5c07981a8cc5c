"""p50 / p95 / p99 latency of every campaign function with 32 concurrent clients.

32 real threads share a ``Database`` pool of 32 connections and call one function at a time (a
phase per function): 2 untimed calls each, then 30 timed calls each (960 samples). The same
workload is then run by one client alone (60 calls after 5 untimed) for the service time: on a
2-core machine, 32 clients mostly measure queueing for the CPUs and for the locks the functions
take by design, and the 1-client column says how much of the 32-client latency is the call itself.

Data: COPY-loaded campaigns of realistic businesses (~60% with an email, ~30% Facebook, ~10%
LinkedIn) then ``VACUUM (ANALYZE)``; each client works on its own businesses, ZIPs and campaigns
where the real pipeline would (enrichment, verification, coverage, status), and on one shared
campaign where it would share one (batch inserts into a campaign, statistics, cost tracking).
The batch inserts (~100k new businesses) run last, after every other phase. The output counts the
claims that came back short (the claim's retry loop, adopted from proposal P4, keeps that at 0).

    python -m bench.campaigns_latency    # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg

from bench.campaigns_common import (
    ClientRun,
    Worker,
    apify_items,
    campaign_data,
    campaign_database,
    create_campaign,
    fmt_int,
    load_businesses,
    place_id,
    pooled,
    print_table,
    run_clients,
    sql_fingerprint,
    zip_codes,
    zip_items,
)
from bench.common import percentile_ms, server_label, server_url
from leadledger.db import Database

CLIENTS = 32
CALLS = 30
WARMUP = 2
SOLO_CALLS = 60
SOLO_WARMUP = 5
SLOTS = CLIENTS + 1  # slot 32 is the lone client's, so it never reuses a concurrent client's data
STATS_BUSINESSES = 10_000
ENRICH_BUSINESSES = 16_000
CLAIM_BUSINESSES = 12_000
BATCH_ITEMS = 100
ENRICH_BATCH = 10
CLAIM_LIMIT = 10
ZIPS_PER_SLOT = 10

MakeWorker = Callable[[int], Worker]


class Ids:
    """Hands out disjoint runs of ids to the clients (thread-safe; taken before the timing)."""

    def __init__(self, ids: list[uuid.UUID]) -> None:
        self._ids: Iterator[uuid.UUID] = iter(ids)
        self._lock = threading.Lock()

    def take(self, count: int) -> list[uuid.UUID]:
        with self._lock:
            taken = list(itertools.islice(self._ids, count))
        if len(taken) < count:
            raise RuntimeError("the benchmark ran out of prepared businesses")
        return taken


@dataclass(frozen=True)
class Phase:
    function: str
    workload: str
    make: Callable[[Database, int], MakeWorker]  # (db, calls per client incl. warm-up) -> make_worker


class ClaimCounts:
    """How many claims handed out fewer businesses than asked for, by function and number of
    clients (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[tuple[str, int], int] = {}
        self.short: dict[tuple[str, int], int] = {}
        self.empty: dict[tuple[str, int], int] = {}

    def record(self, function: str, clients: int, claimed: int) -> None:
        key = (function, clients)
        with self._lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            self.short[key] = self.short.get(key, 0) + (claimed < CLAIM_LIMIT)
            self.empty[key] = self.empty.get(key, 0) + (claimed == 0)


@dataclass
class Setup:
    stats: uuid.UUID
    batch: uuid.UUID
    coverage: uuid.UUID
    status: list[list[uuid.UUID]]
    enrich_campaign: uuid.UUID
    enrich: Ids
    enrich_linkedin: Ids
    verify: Ids
    claim: uuid.UUID
    emails: dict[uuid.UUID, str]
    claims: ClaimCounts = field(default_factory=ClaimCounts)


def prepare(db: Database, conn: psycopg.Connection[Any]) -> Setup:
    stats = create_campaign(db, "latency: statistics", zips=10)
    load_businesses(conn, stats, STATS_BUSINESSES, seed=11)
    enrich = create_campaign(db, "latency: enrichment", zips=1)
    load_businesses(conn, enrich, ENRICH_BUSINESSES, seed=12)
    claim = create_campaign(db, "latency: claims", zips=1)
    load_businesses(conn, claim, CLAIM_BUSINESSES, seed=13)
    batch = create_campaign(db, "latency: batch inserts", zips=10)
    envelope = db.call(
        "create_campaign_with_coverage",
        p_campaign_data=campaign_data("latency: coverage"),
        p_zip_codes=zip_items(SLOTS * ZIPS_PER_SLOT),
    )
    coverage = uuid.UUID(str(envelope["campaign_id"]))
    status = [[create_campaign(db, f"latency: status {i}.{j}") for j in range(2)] for i in range(SLOTS)]
    for pair in status:
        for campaign_id in pair:
            db.call("transition_campaign_status", p_campaign_id=campaign_id, p_new_status="running")
    for table in ("gmaps_businesses", "gmaps_campaigns", "gmaps_campaign_coverage"):
        conn.execute(f"VACUUM (ANALYZE) {table}")

    rows = conn.execute(
        "SELECT id, email FROM gmaps_businesses WHERE campaign_id = %s ORDER BY id", [enrich]
    ).fetchall()
    with_email = [r for r in rows if r[1] is not None]
    without_email = [r for r in rows if r[1] is None]
    verify_rows = with_email[:1500]  # verification needs an email; the rest go to enrichment
    rest = with_email[1500:] + without_email
    facebook_rows, linkedin_rows = rest[: len(rest) - 1500], rest[len(rest) - 1500 :]
    return Setup(
        stats=stats,
        batch=batch,
        coverage=coverage,
        status=status,
        enrich_campaign=enrich,
        enrich=Ids([r[0] for r in facebook_rows]),
        enrich_linkedin=Ids([r[0] for r in linkedin_rows]),
        verify=Ids([r[0] for r in verify_rows]),
        claim=claim,
        emails={r[0]: r[1] for r in verify_rows},
    )


def facebook_item(business_id: uuid.UUID, campaign_id: uuid.UUID, k: int) -> dict[str, Any]:
    slug = f"biz{business_id.hex[:10]}"
    found = k % 4 != 3
    return {
        "business_id": str(business_id),
        "campaign_id": str(campaign_id),
        "facebook_url": f"https://www.facebook.com/{slug}" if found else None,
        "page_name": slug.title() if found else None,
        "primary_email": f"hello@{slug}.com" if found else None,
        "emails": [f"hello@{slug}.com", f"sales@{slug}.com"] if found else [],
        "phone_numbers": ["+15125550100"] if found else [],
        "status": "enriched" if found else "not_found",
        "raw_data": {"pageUrl": f"https://www.facebook.com/{slug}", "likes": 120 + k, "category": "Plumber"},
    }


def linkedin_enrichment(business_id: uuid.UUID) -> dict[str, Any]:
    slug = f"biz{business_id.hex[:10]}"
    return {
        "linkedin_url": f"https://www.linkedin.com/company/{slug}",
        "company": {"name": slug.title(), "size": "11-50", "industry": "Construction"},
        "person": {"name": "Jordan Smith", "title": "Owner"},
        "primary_email": f"jordan@{slug}.com",
        "emails": [f"jordan@{slug}.com"],
        "phone_numbers": ["+15125550199"],
        "status": "enriched",
    }


def bouncer_response(email: str) -> dict[str, Any]:
    return {
        "email": email,
        "status": "deliverable",
        "reason": "accepted_email",
        "domain": {"name": email.split("@")[-1], "acceptAll": "no", "disposable": "no", "free": "no"},
        "account": {"role": "yes", "disabled": "no", "fullMailbox": "no"},
        "dns": {"type": "MX", "record": "aspmx.l.google.com."},
        "provider": "google.com",
        "score": 100,
        "toxic": "unknown",
        "toxicity": 0,
    }


def phases(setup: Setup) -> list[Phase]:
    names = itertools.count()
    campaign = setup.enrich_campaign
    zips = zip_codes(SLOTS * ZIPS_PER_SLOT)
    costs = Decimal("0.004")

    def transitions(db: Database, total: int) -> MakeWorker:
        def make(i: int) -> Worker:
            state = dict.fromkeys(setup.status[i], "running")

            def call(k: int) -> None:
                campaign_id = setup.status[i][k % 2]
                new = "paused" if state[campaign_id] == "running" else "running"
                db.call("transition_campaign_status", p_campaign_id=campaign_id, p_new_status=new)
                state[campaign_id] = new

            return call

        return make

    def batch_inserts(db: Database, total: int) -> MakeWorker:
        def make(i: int) -> Worker:
            template = apify_items(BATCH_ITEMS, seed=1000 + i)
            batches = [[{**item, "placeId": place_id()} for item in template] for _ in range(total)]
            zips = zip_codes(10)

            def call(k: int) -> None:
                db.call(
                    "insert_businesses_batch",
                    p_campaign_id=setup.batch,
                    p_zip_code=zips[k % len(zips)],
                    p_businesses=batches[k],
                )

            return call

        return make

    def enrichment_batches(db: Database, total: int) -> MakeWorker:
        def make(i: int) -> Worker:
            ids = setup.enrich.take(total * ENRICH_BATCH)
            batches = [
                [facebook_item(b, campaign, k) for b in ids[k * ENRICH_BATCH : (k + 1) * ENRICH_BATCH]]
                for k in range(total)
            ]

            def call(k: int) -> None:
                result = db.call(
                    "update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=batches[k]
                )
                assert result["failed"] == 0, result

            return call

        return make

    def save_facebook(db: Database, total: int) -> MakeWorker:
        def make(i: int) -> Worker:
            ids = setup.enrich.take(total)

            def call(k: int) -> None:
                item = facebook_item(ids[k], campaign, k)
                del item["business_id"], item["campaign_id"]
                db.call(
                    "save_facebook_enrichment",
                    p_business_id=ids[k],
                    p_campaign_id=campaign,
                    p_enrichment=item,
                )

            return call

        return make

    def save_linkedin(db: Database, total: int) -> MakeWorker:
        def make(i: int) -> Worker:
            ids = setup.enrich_linkedin.take(total)

            def call(k: int) -> None:
                db.call(
                    "save_linkedin_enrichment",
                    p_business_id=ids[k],
                    p_campaign_id=campaign,
                    p_enrichment=linkedin_enrichment(ids[k]),
                )

            return call

        return make

    def verifications(db: Database, total: int) -> MakeWorker:
        def make(i: int) -> Worker:
            ids = setup.verify.take(total)

            def call(k: int) -> None:
                email = setup.emails[ids[k]]
                db.call(
                    "update_email_verification",
                    p_business_id=ids[k],
                    p_email=email,
                    p_verification_data=bouncer_response(email),
                )

            return call

        return make

    def claims(function: str, campaign_id: uuid.UUID) -> Callable[[Database, int], MakeWorker]:
        return lambda db, total: claimer(function, campaign_id, db)

    def claimer(function: str, campaign_id: uuid.UUID, db: Database) -> MakeWorker:
        def make(i: int) -> Worker:
            worker = f"worker-{i}-{next(names)}"

            def call(k: int) -> float:
                started = time.perf_counter()
                claimed = db.call(
                    function,
                    p_campaign_id=campaign_id,
                    p_enrichment_type="facebook",
                    p_worker=worker,
                    p_limit=CLAIM_LIMIT,
                    p_lease=timedelta(minutes=5),
                )
                elapsed = time.perf_counter() - started
                setup.claims.record(function, db.pool.max_size, claimed["claimed"])
                # the worker then saves what it claimed (untimed), as a real enrichment worker does
                items = [
                    facebook_item(uuid.UUID(b["business_id"]), campaign_id, k) for b in claimed["businesses"]
                ]
                if items:
                    db.call("update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=items)
                return elapsed

            return call

        return make

    def simple(fn: Callable[[Database, int, int], Any]) -> Callable[[Database, int], MakeWorker]:
        def factory(db: Database, total: int) -> MakeWorker:
            def make(i: int) -> Worker:
                def call(k: int) -> None:
                    fn(db, i, k)

                return call

            return make

        return factory

    return [
        Phase(
            "create_campaign_with_coverage",
            "10 ZIPs, a new campaign each call",
            simple(
                lambda db, i, k: db.call(
                    "create_campaign_with_coverage",
                    p_campaign_data=campaign_data(f"latency create {i}.{k}"),
                    p_zip_codes=zip_items(10),
                )
            ),
        ),
        Phase(
            "insert_businesses_batch", f"{BATCH_ITEMS} new Apify items, one shared campaign", batch_inserts
        ),
        Phase(
            "update_campaign_statistics",
            f"{STATS_BUSINESSES:,} businesses, one shared campaign",
            simple(lambda db, i, k: db.call("update_campaign_statistics", p_campaign_id=setup.stats)),
        ),
        Phase(
            "track_campaign_cost",
            "one shared campaign",
            simple(
                lambda db, i, k: db.call(
                    "track_campaign_cost",
                    p_campaign_id=setup.stats,
                    p_service="facebook",
                    p_items_processed=10,
                    p_cost_usd=costs,
                    p_metadata={"client": i, "call": k},
                )
            ),
        ),
        Phase(
            "track_campaign_cost",
            "a campaign per client",
            simple(
                lambda db, i, k: db.call(
                    "track_campaign_cost",
                    p_campaign_id=setup.status[i][0],
                    p_service="bouncer",
                    p_items_processed=1,
                    p_cost_usd=costs,
                    p_metadata={"client": i, "call": k},
                )
            ),
        ),
        Phase(
            "update_coverage_status",
            f"one campaign of {SLOTS * ZIPS_PER_SLOT} ZIPs, {ZIPS_PER_SLOT} per client",
            simple(
                lambda db, i, k: db.call(
                    "update_coverage_status",
                    p_campaign_id=setup.coverage,
                    p_zip_code=zips[i * ZIPS_PER_SLOT + k % ZIPS_PER_SLOT],
                    p_businesses_found=120,
                    p_emails_found=70,
                    p_actual_cost=Decimal("0.85"),
                )
            ),
        ),
        Phase(
            "update_enrichment_batch",
            f"facebook, {ENRICH_BATCH} businesses, each client its own",
            enrichment_batches,
        ),
        Phase("save_facebook_enrichment", "each client its own businesses", save_facebook),
        Phase("save_linkedin_enrichment", "each client its own businesses", save_linkedin),
        Phase(
            "update_email_verification", "a Bouncer response, each client its own businesses", verifications
        ),
        Phase(
            "get_businesses_for_enrichment",
            f"facebook, pages of 100 of {STATS_BUSINESSES:,} pending",
            simple(
                lambda db, i, k: db.fetch(
                    "get_businesses_for_enrichment",
                    p_campaign_id=setup.stats,
                    p_enrichment_type="facebook",
                    p_limit=100,
                    p_offset=(k % 10) * 100,
                )
            ),
        ),
        Phase(
            "claim_businesses_for_enrichment",
            f"facebook, {CLAIM_LIMIT} at a time from one campaign; each claim then saved (untimed)",
            claims("claim_businesses_for_enrichment", setup.claim),
        ),
        Phase("transition_campaign_status", "running <-> paused, 2 campaigns per client", transitions),
        Phase(
            "is_valid_status_transition",
            "running -> paused",
            simple(lambda db, i, k: db.call("is_valid_status_transition", p_from="running", p_to="paused")),
        ),
        Phase(
            "get_campaign_overview",
            f"the {STATS_BUSINESSES:,}-business campaign (10 ZIPs, ~1,000 cost rows)",
            simple(lambda db, i, k: db.call("get_campaign_overview", p_campaign_id=setup.stats)),
        ),
        Phase(
            "list_campaigns",
            "first page of 50",
            simple(lambda db, i, k: db.fetch("list_campaigns", p_limit=50)),
        ),
    ]


def lone_client(make: MakeWorker, _index: int) -> Worker:
    """The lone client's worker: the data of slot 32, which no concurrent client used."""
    return make(CLIENTS)


def main() -> None:
    fingerprint = sql_fingerprint()
    with server_url() as url, campaign_database(url) as db_url:
        label = server_label(url)
        with (
            pooled(db_url, CLIENTS) as db,
            pooled(db_url, 1) as solo_db,
            psycopg.connect(db_url, autocommit=True) as conn,
        ):
            setup = prepare(db, conn)
            # the batch inserts add ~100k businesses to one campaign: they run last, so that the
            # other phases are measured on the analyzed data (not on the minute before autovacuum
            # re-analyzes the table, when a stale estimate can turn a 10k-business scan into a
            # scan of the whole table)
            ordered = sorted(
                enumerate(phases(setup)), key=lambda p: p[1].function == "insert_businesses_batch"
            )
            measured: dict[int, tuple[Phase, ClientRun, ClientRun]] = {}
            for index, phase in ordered:
                print(f"{phase.function}: {phase.workload}", file=sys.stderr, flush=True)
                run = run_clients(CLIENTS, CALLS, phase.make(db, WARMUP + CALLS), warmup=WARMUP)
                make_solo = phase.make(solo_db, SOLO_WARMUP + SOLO_CALLS)
                solo = run_clients(1, SOLO_CALLS, partial(lone_client, make_solo), warmup=SOLO_WARMUP)
                measured[index] = (phase, run, solo)
            results = [measured[index] for index in sorted(measured)]

        print(f"# {CLIENTS} concurrent clients (threads, a pool of {CLIENTS}), {label}; {fingerprint}")
        print(f"# {CLIENTS}x{CALLS} timed calls per function; 1 client: {SOLO_CALLS} calls")
        rows: list[list[str]] = []
        for phase, run, solo in results:
            p99 = percentile_ms(run.latencies, 99)
            rows.append(
                [
                    f"`{phase.function}`",
                    phase.workload,
                    f"{percentile_ms(solo.latencies, 50):.2f}",
                    f"{percentile_ms(run.latencies, 50):.1f}",
                    f"{percentile_ms(run.latencies, 95):.1f}",
                    f"{p99:.1f}",
                    fmt_int(run.per_second),
                    "yes" if p99 < 100 else "**no**",
                ]
            )
        print_table(
            [
                "function",
                "workload",
                "1 client p50 ms",
                "32 clients p50 ms",
                "p95 ms",
                "p99 ms",
                "calls/s",
                "p99 < 100 ms",
            ],
            rows,
        )
        counts = setup.claims
        for key in sorted(counts.calls, key=lambda k: (k[0], -k[1])):
            function, clients = key
            print(
                f"# {function}, {clients} client(s): {counts.short[key]} of {counts.calls[key]} claims"
                f" returned fewer than {CLAIM_LIMIT} businesses ({counts.empty[key]} returned none)"
                " while thousands were pending"
            )


if __name__ == "__main__":
    main()
