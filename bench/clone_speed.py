"""How fast a test gets a fresh migrated database: clone a template (WAL_LOG or FILE_COPY
strategy) versus running the migrations into an empty database. Reported in docs/decisions.md
(D9) and docs/benchmarks.md.

    python -m bench.clone_speed          # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import uuid

import psycopg
from psycopg import sql

from bench.common import median_ms, migrated_database, server_label, server_url, timed
from leadledger.db.migrations import MigrationRunner

ROUNDS = 15


def main() -> None:
    with server_url() as url, migrated_database(url) as template_url:
        template = psycopg.conninfo.conninfo_to_dict(template_url)["dbname"]
        print(f"# fresh database per test, {server_label(url)}, median of {ROUNDS}")
        results: dict[str, float] = {}
        with psycopg.connect(url, autocommit=True) as admin:
            for strategy in ("WAL_LOG", "FILE_COPY"):
                samples = []
                for _ in range(ROUNDS):
                    name = sql.Identifier(f"llclone_{uuid.uuid4().hex[:8]}")
                    stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY {}").format(
                        name, sql.Identifier(str(template)), sql.SQL(strategy)
                    )
                    samples.append(timed(lambda stmt=stmt: admin.execute(stmt)))
                    admin.execute(sql.SQL("DROP DATABASE {}").format(name))
                results[f"clone template ({strategy})"] = median_ms(samples)
            samples = []
            for _ in range(ROUNDS):
                name = f"llclone_{uuid.uuid4().hex[:8]}"

                def create_and_migrate(name: str = name) -> None:
                    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    db_url = psycopg.conninfo.make_conninfo(url, dbname=name)
                    with psycopg.connect(db_url, autocommit=True) as conn:
                        MigrationRunner(conn).upgrade()

                samples.append(timed(create_and_migrate))
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            results["create empty + run migrations"] = median_ms(samples)
        base = results["clone template (WAL_LOG)"]
        print("| method | median ms | vs clone (WAL_LOG) |")
        print("| --- | ---: | ---: |")
        for method, ms in results.items():
            print(f"| {method} | {ms} | {ms / base:.2f}x |")


if __name__ == "__main__":
    main()
