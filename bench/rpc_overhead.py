"""What the Python call path costs over a bare psycopg statement.

The same trivial stored function (``leadledger.ok_envelope``) is called sequentially, N times:

* raw: one psycopg connection, ``conn.execute("SELECT leadledger.ok_envelope(%s)")``;
* raw client-side: the same with ``ClientCursor`` (literal parameters, as leadledger sends);
* leadledger: ``Database.call`` (pool checkout, statement build, retry wrapper, unwrap).

    python -m bench.rpc_overhead         # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import time

import psycopg
from psycopg.types.json import Jsonb

from bench.common import median_ms, migrated_database, percentile_ms, server_label, server_url
from leadledger.db import Database, Settings

CALLS = 2000
ROUNDS = 5


def per_call(fn: object, calls: int = CALLS) -> list[float]:
    assert callable(fn)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    with server_url() as url, migrated_database(url) as db_url:
        payload = {"n": 1}
        results: dict[str, list[float]] = {"raw psycopg": [], "raw ClientCursor": [], "Database.call": []}
        with (
            psycopg.connect(db_url, autocommit=True) as raw,
            psycopg.connect(db_url, autocommit=True, cursor_factory=psycopg.ClientCursor) as client_side,
            Database(db_url, Settings(database_url=db_url, pool_min_size=1, pool_max_size=1)) as db,
        ):
            db.open()
            db.pool.wait()
            for _ in range(ROUNDS):  # interleave rounds so drift hits every method alike
                results["raw psycopg"] += per_call(
                    lambda: raw.execute("SELECT leadledger.ok_envelope(%s)", [Jsonb(payload)]).fetchone()
                )
                results["raw ClientCursor"] += per_call(
                    lambda: client_side.execute(
                        "SELECT leadledger.ok_envelope(%s)", [Jsonb(payload)]
                    ).fetchone()
                )
                results["Database.call"] += per_call(
                    lambda: db.call("leadledger.ok_envelope", p_fields=payload)
                )
        print(f"# sequential calls of leadledger.ok_envelope, {server_label(url)}, {ROUNDS}x{CALLS} calls")
        base = median_ms(results["raw psycopg"])
        print("| method | p50 ms | p95 ms | p99 ms | p50 vs raw |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for method, samples in results.items():
            p50 = median_ms(samples)
            print(
                f"| {method} | {p50} | {percentile_ms(samples, 95)} | {percentile_ms(samples, 99)}"
                f" | {p50 / base:.2f}x |"
            )


if __name__ == "__main__":
    main()
