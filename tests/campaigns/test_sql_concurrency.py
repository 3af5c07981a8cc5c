"""Many connections at once against one campaign, counting exact outcomes.

Every test uses real threads and real separate connections. Where a test must prove that no
conflict error surfaces at all (deadlock, unique violation), each thread has its own plain
connection and reads the raw envelope, so the client's retries cannot hide one.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
import pytest

from leadledger.db import BusinessRuleError, Database
from tests.campaigns.conftest import (
    Conn,
    Envelope,
    add_businesses,
    apify_item,
    business_id,
    call_sql,
    drive_to,
    new_campaign,
    one,
    prepare,
    rows,
    value,
)

T = TypeVar("T")


def run_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0) ... work(count - 1) in as many threads, released together by a barrier."""
    barrier = threading.Barrier(count)

    def start(i: int) -> T:
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(start, i) for i in range(count)]
        return [f.result(timeout=120) for f in futures]


def run_on_connections(db_url: str, count: int, work: Callable[[int, Conn], T]) -> list[T]:
    """run_at_once, each thread with its own plain connection, opened before the barrier so the
    calls really start together."""
    with ExitStack() as stack:
        conns = [prepare(stack.enter_context(psycopg.connect(db_url, autocommit=True))) for _ in range(count)]
        return run_at_once(count, lambda i: work(i, conns[i]))


@pytest.mark.slow
def test_16_writers_track_costs_on_one_campaign_without_losing_one(
    pg: Conn, campaign: str, big_database: Database
) -> None:
    writers, calls = 16, 200

    def amount(writer: int, i: int) -> Decimal:
        return Decimal("0.01") * ((writer * calls + i) % 97 + 1)

    def write(writer: int) -> list[Decimal]:
        totals = []
        for i in range(calls):
            result = big_database.call(
                "track_campaign_cost",
                p_campaign_id=campaign,
                p_service=("google_maps", "facebook", "linkedin", "bouncer")[i % 4],
                p_items_processed=i,
                p_cost_usd=amount(writer, i),
                p_metadata={"writer": writer, "call": i},
            )
            totals.append(result["new_total"])
        return totals

    totals = run_at_once(writers, write)
    expected = sum(amount(w, i) for w in range(writers) for i in range(calls))
    stored = one(
        pg,
        "SELECT c.actual_cost, (SELECT count(*) FROM gmaps_api_costs) AS n,"
        " (SELECT sum(cost_usd) FROM gmaps_api_costs) AS total FROM gmaps_campaigns c WHERE c.id = %s",
        campaign,
    )
    assert stored == {"actual_cost": expected, "n": writers * calls, "total": expected}
    # Each writer saw its own totals grow, and every running total returned is distinct: no two
    # adds read the same previous total.
    all_totals = [t for writer_totals in totals for t in writer_totals]
    assert all(a < b for writer_totals in totals for a, b in itertools.pairwise(writer_totals))
    assert len(set(all_totals)) == writers * calls
    assert max(all_totals) == expected
    assert value(pg, "SELECT count(DISTINCT metadata) FROM gmaps_api_costs") == writers * calls


@pytest.mark.slow
def test_overlapping_batches_from_neighbouring_zips_store_every_place_once(
    db_url: str, pg: Conn, campaign: str
) -> None:
    threads, places, window = 8, 400, 150
    zips = ["78701", "78702", "78703"]

    def batch(t: int) -> list[dict[str, Any]]:
        ids = [(t * 50 + k) % places for k in range(window)]  # each window overlaps the next two
        random.Random(t).shuffle(ids)
        items = [apify_item(f"place-{n:04d}", n, title=f"seen by {t}") for n in ids]
        items.append(apify_item(None, 999))  # no place id: skipped
        items.append(items[0])  # a repeat within the batch: skipped
        return items

    batches = [batch(t) for t in range(threads)]

    def insert(t: int, c: Conn) -> Envelope:
        return call_sql(
            c,
            "insert_businesses_batch",
            p_campaign_id=campaign,
            p_zip_code=zips[t % 3],
            p_businesses=batches[t],
        )

    results = run_on_connections(db_url, threads, insert)
    assert all(r["success"] for r in results), results
    covered = {n for t in range(threads) for n in ((t * 50 + k) % places for k in range(window))}
    assert len(covered) == places
    assert sum(r["inserted"] for r in results) == places
    assert sum(r["inserted"] + r["updated"] + r["unchanged"] for r in results) == threads * window
    assert all(r["skipped"] == 2 and r["total"] == window + 2 for r in results)
    counts = one(
        pg, "SELECT count(*) AS n, count(DISTINCT place_id) AS distinct_places FROM gmaps_businesses"
    )
    assert counts == {"n": places, "distinct_places": places}


@pytest.mark.slow
def test_concurrent_claims_never_hand_a_business_to_two_workers(db_url: str, pg: Conn, campaign: str) -> None:
    total = 500
    add_businesses(pg, campaign, [{"placeId": f"p{n:04d}", "title": f"B{n}"} for n in range(total)])
    all_ids = {str(r["id"]) for r in rows(pg, "SELECT id FROM gmaps_businesses")}

    def claim_until_empty(worker: int, c: Conn, kind: str, limit: int) -> list[str]:
        got: list[str] = []
        while True:
            result = call_sql(
                c,
                "claim_businesses_for_enrichment",
                p_campaign_id=campaign,
                p_enrichment_type=kind,
                p_worker=f"{kind}-{worker}",
                p_limit=limit,
            )
            assert result["success"], result
            if not result["claimed"]:
                return got
            got += [b["business_id"] for b in result["businesses"]]

    handed = run_on_connections(db_url, 8, lambda w, c: claim_until_empty(w, c, "facebook", 7))
    every = Counter(b for worker in handed for b in worker)
    assert max(every.values()) == 1  # nobody got a business twice, across all workers
    assert set(every) == all_ids
    leases = rows(
        pg, "SELECT business_id::text, worker FROM gmaps_enrichment_leases WHERE enrichment_type = 'facebook'"
    )
    assert {r["business_id"]: r["worker"] for r in leases} == {
        b: f"facebook-{w}" for w, worker in enumerate(handed) for b in worker
    }

    # A worker that crashed holding short leases: once they expire, other workers take them over.
    crashed = call_sql(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="linkedin",
        p_worker="crashed",
        p_limit=1000,
        p_lease="1 second",  # from the claim's transaction start: room for a slow 500-row claim
    )
    assert crashed["claimed"] == total
    assert (
        call_sql(
            pg,
            "claim_businesses_for_enrichment",
            p_campaign_id=campaign,
            p_enrichment_type="linkedin",
            p_worker="early",
        )["claimed"]
        == 0
    )
    time.sleep(1.1)
    rescued = run_on_connections(db_url, 4, lambda w, c: claim_until_empty(w, c, "linkedin", 50))
    every = Counter(b for worker in rescued for b in worker)
    assert max(every.values()) == 1
    assert set(every) == all_ids
    assert value(pg, "SELECT count(*) FROM gmaps_enrichment_leases WHERE worker = 'crashed'") == 0


@pytest.mark.slow
@pytest.mark.parametrize("start", ["running", "paused"])
def test_racing_final_transitions_have_exactly_one_winner(db_url: str, pg: Conn, start: str) -> None:
    targets = ["completed", "cancelled", "failed"] if start == "running" else ["cancelled", "failed"]
    for round_ in range(3):
        campaign = new_campaign(pg, f"race {start} {round_}")
        drive_to(pg, campaign, start)
        history_before = value(
            pg, "SELECT count(*) FROM gmaps_campaign_status_history WHERE campaign_id = %s", campaign
        )

        def transition(i: int, c: Conn, campaign: str = campaign) -> tuple[str, Envelope]:
            target = targets[i % len(targets)]
            return target, call_sql(
                c,
                "transition_campaign_status",
                p_campaign_id=campaign,
                p_new_status=target,
                p_reason=f"thread {i}",
            )

        results = run_on_connections(db_url, 10, transition)
        winners = [(target, r) for target, r in results if r["success"]]
        assert len(winners) == 1, results
        won, envelope = winners[0]
        assert envelope["from_status"] == start
        for target, r in results:
            if not r["success"]:
                assert (r["error_code"], r["error"]) == (
                    "P0001",
                    f"Invalid status transition from {won} to {target}",
                )
        stored = one(pg, "SELECT status, status_reason FROM gmaps_campaigns WHERE id = %s", campaign)
        assert stored == {"status": won, "status_reason": envelope["reason"]}
        history = rows(
            pg,
            "SELECT from_status, to_status, reason FROM gmaps_campaign_status_history"
            " WHERE campaign_id = %s ORDER BY id",
            campaign,
        )
        assert len(history) == history_before + 1
        assert history[-1] == {"from_status": start, "to_status": won, "reason": envelope["reason"]}


@pytest.mark.slow
def test_racing_transitions_through_the_client(big_database: Database, pg: Conn, campaign: str) -> None:
    drive_to(pg, campaign, "running")

    def transition(i: int) -> str:
        try:
            big_database.call(
                "transition_campaign_status",
                p_campaign_id=campaign,
                p_new_status=("completed", "failed")[i % 2],
            )
        except BusinessRuleError:
            return "refused"
        return "won"

    assert Counter(run_at_once(12, transition)) == {"won": 1, "refused": 11}


@pytest.mark.slow
def test_statistics_refresh_while_writers_insert(
    db_url: str, pg: Conn, campaign: str, big_database: Database
) -> None:
    writers, batches, per_batch = 4, 8, 40
    done = threading.Event()

    def write(w: int) -> int:
        for b in range(batches):
            items = [
                apify_item(
                    f"w{w}-b{b}-{k}",
                    k,
                    emails=[] if k % 3 else [f"e{w}{b}{k}@example.com"],
                    facebooks=[] if k % 2 else [f"https://facebook.com/{w}{b}{k}"],
                )
                for k in range(per_batch)
            ]
            big_database.call(
                "insert_businesses_batch", p_campaign_id=campaign, p_zip_code="78701", p_businesses=items
            )
            big_database.call(
                "track_campaign_cost",
                p_campaign_id=campaign,
                p_service="google_maps",
                p_items_processed=per_batch,
                p_cost_usd=Decimal("0.16"),
            )
        return writers

    def refresh(_: int) -> list[int]:
        seen = []
        with psycopg.connect(db_url, autocommit=True) as c:
            prepare(c)
            while not done.is_set():
                result = call_sql(c, "update_campaign_statistics", p_campaign_id=campaign)
                assert result["success"], result  # never fails, never a conflict
                seen.append(result["total_businesses"])
        return seen

    with ThreadPoolExecutor(max_workers=writers + 3) as pool:
        refreshers = [pool.submit(refresh, i) for i in range(3)]
        for f in [pool.submit(write, w) for w in range(writers)]:
            f.result(timeout=120)
        done.set()
        observed = [f.result(timeout=60) for f in refreshers]

    for seen in observed:
        assert seen, "a refresher never ran"
        assert seen == sorted(seen)  # serialised refreshes: never older numbers after newer ones
    assert min(min(seen) for seen in observed) < writers * batches * per_batch  # they ran during the writes
    final = call_sql(pg, "update_campaign_statistics", p_campaign_id=campaign)
    counted = one(
        pg,
        "SELECT count(*) AS total_businesses, count(email) AS total_emails,"
        " count(facebook_url) AS total_facebook_pages FROM gmaps_businesses WHERE campaign_id = %s",
        campaign,
    )
    assert counted == {
        "total_businesses": writers * batches * per_batch,
        "total_emails": 448,
        "total_facebook_pages": 640,
    }
    assert {k: final[k] for k in counted} == counted
    stored = one(
        pg,
        "SELECT total_businesses, total_emails, total_facebook_pages, actual_cost"
        " FROM gmaps_campaigns WHERE id = %s",
        campaign,
    )
    assert stored == {**counted, "actual_cost": Decimal("0.16") * writers * batches}
    assert final["actual_cost"] == stored["actual_cost"]


@pytest.mark.slow
def test_facebook_and_linkedin_batches_at_once_keep_the_priority(
    db_url: str, pg: Conn, campaign: str
) -> None:
    size, chunk = 200, 25
    add_businesses(
        pg, campaign, [apify_item(f"p{n:03d}", n, emails=[f"g{n}@example.com"]) for n in range(size)]
    )
    ids = {
        int(str(r["place_id"])[1:]): str(r["id"])
        for r in rows(pg, "SELECT id, place_id FROM gmaps_businesses")
    }

    def items(kind: str, numbers: list[int]) -> list[dict[str, Any]]:
        return [{"business_id": ids[n], "primary_email": f"{kind[0]}{n}@example.com"} for n in numbers]

    plans: list[tuple[str, list[int]]] = []
    for seed, (kind, numbers) in enumerate(
        [
            ("facebook", list(range(size))),
            ("facebook", list(range(size))),
            ("linkedin", list(range(0, size, 2))),
            ("linkedin", list(range(0, size, 2))),
        ]
    ):
        random.Random(seed).shuffle(numbers)
        plans.append((kind, numbers))

    def enrich(t: int, c: Conn) -> list[Envelope]:
        kind, numbers = plans[t]
        return [
            call_sql(
                c,
                "update_enrichment_batch",
                p_enrichment_type=kind,
                p_enrichments=items(kind, numbers[i : i + chunk]),
            )
            for i in range(0, len(numbers), chunk)
        ]

    results = [r for thread in run_on_connections(db_url, len(plans), enrich) for r in thread]
    assert all(r["success"] and r["failed"] == 0 for r in results), [r for r in results if not r["success"]]
    stored = {
        str(r["id"]): (r["email"], r["email_source"]) for r in rows(pg, "SELECT * FROM gmaps_businesses")
    }
    assert stored == {
        ids[n]: (f"l{n}@example.com", "linkedin") if n % 2 == 0 else (f"f{n}@example.com", "facebook")
        for n in range(size)
    }
    counts = one(
        pg,
        "SELECT (SELECT count(*) FROM gmaps_facebook_enrichments) AS facebook,"
        " (SELECT count(*) FROM gmaps_linkedin_enrichments) AS linkedin",
    )
    assert counts == {"facebook": size, "linkedin": size // 2}


@pytest.mark.slow
def test_rescrapes_racing_enrichment_batches_neither_deadlock_nor_win(
    db_url: str, pg: Conn, campaign: str
) -> None:
    """insert_businesses_batch upserts (and locks) businesses in place_id order; enrichment batches
    must lock them in the same order, or a re-scrape racing an enrichment deadlocks. Plain
    connections, no retries: not one 40P01 may surface. The email priority holds throughout."""
    size, rounds = 120, 4
    add_businesses(pg, campaign, [apify_item(f"p{n:03d}", n, emails=[]) for n in range(size)])
    ids = [business_id(pg, campaign, f"p{n:03d}") for n in range(size)]

    def work(t: int, c: Conn) -> list[Envelope]:
        results = []
        for round_ in range(rounds):
            if t % 2 == 0:
                items = [
                    apify_item(f"p{n:03d}", n, emails=[f"g{t}{round_}{n}@example.com"]) for n in range(size)
                ]
                results.append(
                    call_sql(
                        c,
                        "insert_businesses_batch",
                        p_campaign_id=campaign,
                        p_zip_code="78701",
                        p_businesses=items,
                    )
                )
            else:
                numbers = list(range(size))
                random.Random(t * 10 + round_).shuffle(numbers)
                enrichments = [{"business_id": ids[n], "primary_email": f"f{n}@example.com"} for n in numbers]
                results.append(
                    call_sql(
                        c, "update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=enrichments
                    )
                )
        return results

    results = [r for thread in run_on_connections(db_url, 4, work) for r in thread]
    assert [r for r in results if not r["success"]] == []
    stored = rows(pg, "SELECT place_id, email, email_source FROM gmaps_businesses ORDER BY place_id")
    assert [(r["email"], r["email_source"]) for r in stored] == [
        (f"f{n}@example.com", "facebook") for n in range(size)
    ]
