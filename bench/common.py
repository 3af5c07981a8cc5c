"""Shared by the benchmarks: which server, a fresh migrated database, and how to report.

``BENCH_DATABASE_URL`` selects the server; without it an embedded server is started in a
temporary directory. Timings are medians over repeated runs (the machines are small and noisy).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from leadledger.db.embedded import EmbeddedServer
from leadledger.db.migrations import CurrentFile, Migration, MigrationRunner

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def server_url() -> Iterator[str]:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="leadledger-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "pgdata", cleanup="delete")
        try:
            yield server.start("postgres")
        finally:
            server.stop()


def server_label(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    kind = "external" if os.environ.get("BENCH_DATABASE_URL") else "embedded"
    return f"PostgreSQL {row[0] if row else '?'} ({kind})"


@contextmanager
def migrated_database(url: str, *, migrate: bool = True) -> Iterator[str]:
    name = f"llbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db_url = make_conninfo(url, dbname=name)
    try:
        if migrate:
            with psycopg.connect(db_url, autocommit=True) as conn:
                MigrationRunner(conn).upgrade()
        yield db_url
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def commit_before(subject: str) -> str:
    """The revision just before the commit whose message contains ``subject``: the baseline of a
    benchmark that measures what that commit changed."""
    found = git("log", "--format=%H", "-1", "--fixed-strings", f"--grep={subject}").strip()
    if not found:
        raise SystemExit(f"no commit with subject {subject!r}: pass --baseline REV")
    return f"{found}^"


def migrations_at(revision: str, packages: tuple[str, ...]) -> list[Migration]:
    """The migrations of ``packages`` as they were at ``revision`` (the files that existed then,
    with their text and rollback then), so that one run can measure the SQL before and after a
    change side by side. Revisions before the current-state split (docs/sql-conventions.md) kept
    every function in its migrations, so these alone build that revision's database: apply them
    with ``MigrationRunner(conn, migrations, current=[])``."""
    found: list[Migration] = []
    for package in packages:
        folder = f"src/{package.replace('.', '/')}/migrations/"
        for name in _sql_files_at(revision, folder):
            version, _, rest = name.partition("_")
            found.append(
                Migration(
                    version=version,
                    name=rest.removesuffix(".sql"),
                    package=package,
                    sql=git("show", f"{revision}:{folder}{name}"),
                    rollback_sql=git("show", f"{revision}:{folder}rollback/{name}"),
                )
            )
    return sorted(found, key=lambda m: m.version)


def current_at(revision: str, packages: tuple[str, ...]) -> list[CurrentFile]:
    """The current-state files of ``packages`` as they were at ``revision`` (none before the
    split): with :func:`migrations_at`, ``MigrationRunner(conn, migrations, current=files)``
    builds that revision's database."""
    found: list[CurrentFile] = []
    for package in packages:
        folder = f"src/{package.replace('.', '/')}/sql/"
        for name in _sql_files_at(revision, folder):
            found.append(CurrentFile(package, name, git("show", f"{revision}:{folder}{name}")))
    return found


def _sql_files_at(revision: str, folder: str) -> list[str]:
    """The ``.sql`` files directly in ``folder`` at ``revision``, sorted (none if it did not exist)."""
    command = ["git", "ls-tree", "--name-only", f"{revision}:{folder}"]
    listed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    names = listed.stdout.split() if listed.returncode == 0 else []
    return sorted(n for n in names if n.endswith(".sql"))


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def percentile_ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 3)


def timed(fn: Callable[[], Any]) -> float:
    import time

    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
