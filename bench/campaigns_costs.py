"""Cost tracking throughput with 1 / 8 / 32 concurrent clients, all on ONE campaign.

Each client is a real thread with its own connection; every configuration runs a fixed number of
calls (split evenly between the clients), rounds interleaved:

* ``track_campaign_cost`` through ``Database.call`` (a pool of one connection per client): the
  atomic ``UPDATE ... SET actual_cost = actual_cost + $1`` plus the audit row in
  ``gmaps_api_costs``, one transaction;
* the same function sent as a plain ``SELECT track_campaign_cost(...)`` on a plain psycopg
  connection per client (server-side binding): separates the SQL's cost from the call path's;
* a copy of the function without its ``EXCEPTION WHEN OTHERS`` block (created in the benchmark's
  database from ``pg_get_functiondef``), the same way: what the proposed change would gain;
* a bare ``UPDATE gmaps_campaigns SET actual_cost = actual_cost + %s WHERE id = %s`` on a plain
  autocommit connection per client (no audit row, no validation, no envelope).

Every run uses a fresh campaign and then checks that no update was lost: ``actual_cost`` equals
the exact (Decimal) sum of every amount sent and, for ``track_campaign_cost``, the campaign has
exactly one ``gmaps_api_costs`` row per call.

    python -m bench.campaigns_costs      # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import random
import statistics
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.campaigns_common import (
    Worker,
    campaign_database,
    create_campaign,
    fmt_int,
    pooled,
    print_table,
    run_clients,
    sql_fingerprint,
)
from bench.campaigns_proposals import track_without_exception_block
from bench.common import server_label, server_url
from leadledger.db import Database

CLIENTS = (1, 8, 32)
TOTAL_CALLS = 1200
ROUNDS = 5
WARMUP = 5  # untimed calls per client first (plans cached), included in the checks
SERVICES = ("google_maps", "facebook", "linkedin", "bouncer")
BARE_UPDATE = "UPDATE gmaps_campaigns SET actual_cost = actual_cost + %s WHERE id = %s"
TRACK_PLAIN = "SELECT track_campaign_cost(%s, %s, %s, %s, %s)"
TRACK = "track_campaign_cost (Database.call)"
TRACK_RAW = "track_campaign_cost (plain psycopg)"
PROPOSED = "the same without its EXCEPTION block (proposed; plain psycopg)"
BARE = "bare UPDATE"
METHODS = (TRACK, TRACK_RAW, PROPOSED, BARE)


def amounts(clients: int, calls: int, seed: int) -> list[list[Decimal]]:
    """The amount every client sends on every call: 0.000001 to 0.999999 dollars."""
    rng = random.Random(seed)
    return [
        [Decimal(rng.randrange(1, 1_000_000)).scaleb(-6) for _ in range(WARMUP + calls)]
        for _ in range(clients)
    ]


def main() -> None:
    fingerprint = sql_fingerprint()
    with server_url() as url, campaign_database(url) as db_url:
        label = server_label(url)
        throughput: dict[tuple[int, str], list[float]] = {}
        failed: dict[tuple[int, str], list[str]] = {}
        with psycopg.connect(db_url, autocommit=True) as admin, ExitStack() as stack:
            raw = [stack.enter_context(psycopg.connect(db_url, autocommit=True)) for _ in range(max(CLIENTS))]
            proposed = track_without_exception_block(admin)
            methods = METHODS if proposed else tuple(m for m in METHODS if m != PROPOSED)
            seed = 0
            for round_no in range(ROUNDS):
                for clients in CLIENTS:
                    calls = -(-TOTAL_CALLS // clients)
                    shift = round_no % len(methods)
                    with pooled(db_url, clients) as db:  # one pooled connection per client
                        for method in methods[shift:] + methods[:shift]:
                            seed += 1
                            campaign_id = create_campaign(db, f"costs {clients} {method}")
                            sent = amounts(clients, calls, seed)
                            make_worker = worker_factory(method, db, raw, campaign_id, sent)
                            run = run_clients(clients, calls, make_worker, warmup=WARMUP)
                            throughput.setdefault((clients, method), []).append(run.per_second)
                            failed.setdefault((clients, method), []).extend(
                                verify(admin, campaign_id, sent, audit=method != BARE)
                            )

        print(f"# cost tracking on one campaign, {label}, {TOTAL_CALLS} calls per run, median of {ROUNDS}")
        print(f"# {fingerprint}")
        rows: list[list[str]] = []
        for clients in CLIENTS:
            bare = statistics.median(throughput[(clients, BARE)])
            for method in methods:
                rate = statistics.median(throughput[(clients, method)])
                rows.append(
                    [
                        str(clients),
                        method,
                        fmt_int(rate),
                        f"{rate / bare:.0%}",
                        f"{len(failed[(clients, method)])} of {ROUNDS}",
                    ]
                )
        print_table(
            ["clients", "method", "calls/s", "vs bare UPDATE (target >= 70%)", "runs with a lost update"],
            rows,
        )
        for problems in failed.values():
            for problem in problems:
                print(f"LOST UPDATE: {problem}")


def worker_factory(
    method: str,
    db: Database,
    raw: list[psycopg.Connection[Any]],
    campaign_id: uuid.UUID,
    sent: list[list[Decimal]],
) -> Callable[[int], Worker]:
    """Client ``i`` of a run: sends ``sent[i][k]`` on its call ``k`` by ``method``."""

    def make_worker(i: int) -> Worker:
        mine = sent[i]
        conn = raw[i]

        def track(k: int) -> None:
            db.call(
                "track_campaign_cost",
                p_campaign_id=campaign_id,
                p_service=SERVICES[k % len(SERVICES)],
                p_items_processed=100,
                p_cost_usd=mine[k],
                p_metadata={"client": i, "call": k},
            )

        def plain(statement: str) -> Worker:
            def call(k: int) -> None:
                row = conn.execute(
                    statement,
                    (campaign_id, SERVICES[k % len(SERVICES)], 100, mine[k], Jsonb({"client": i, "call": k})),
                ).fetchone()
                assert row is not None
                assert row[0]["success"], row

            return call

        def update(k: int) -> None:
            conn.execute(BARE_UPDATE, (mine[k], campaign_id))

        workers: dict[str, Callable[[], Worker]] = {
            TRACK: lambda: track,
            TRACK_RAW: lambda: plain(TRACK_PLAIN),
            PROPOSED: lambda: plain("SELECT bench_track_campaign_cost_proposed(%s, %s, %s, %s, %s)"),
            BARE: lambda: update,
        }
        return workers[method]()

    return make_worker


def verify(
    admin: psycopg.Connection[Any], campaign_id: uuid.UUID, sent: list[list[Decimal]], *, audit: bool
) -> list[str]:
    """What one run lost: empty when actual_cost is the exact sum of the amounts sent and (for
    track_campaign_cost) there is one cost row per call, adding up to the same sum."""
    expected_total = sum((a for per_client in sent for a in per_client), Decimal(0))
    expected_calls = sum(len(per_client) for per_client in sent)
    row = admin.execute(
        "SELECT actual_cost, (SELECT count(*) FROM gmaps_api_costs WHERE campaign_id = c.id),"
        " (SELECT coalesce(sum(cost_usd), 0) FROM gmaps_api_costs WHERE campaign_id = c.id)"
        " FROM gmaps_campaigns c WHERE id = %s",
        [campaign_id],
    ).fetchone()
    assert row is not None
    actual_total, cost_rows, cost_sum = row
    problems: list[str] = []
    if actual_total != expected_total:
        problems.append(f"actual_cost {actual_total} != sum sent {expected_total}")
    if audit and (cost_rows != expected_calls or cost_sum != expected_total):
        problems.append(f"{cost_rows} cost rows (sum {cost_sum}) for {expected_calls} calls")
    if not audit and cost_rows != 0:
        problems.append(f"{cost_rows} cost rows for bare updates")
    return [f"campaign {campaign_id}: {'; '.join(problems)}"] if problems else []


if __name__ == "__main__":
    main()
