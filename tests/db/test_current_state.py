"""The current state: functions, views and triggers live in <domain>/sql/*.sql, one body per
function, re-applied by `db up` whenever a file changes (docs/sql-conventions.md).

The central proof: the migrations of issues 2-5 were rewritten to leave out the functions the
current state now owns (each carries a ``leadledger:replaces`` marker with the checksum and git
revision of the text databases applied). A database built from those texts *as they landed*
(read from git) and then upgraded equals, object for object and body for body, one built from the
files as they are: an existing database upgrades to exactly what a new one gets.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from leadledger.db.errors import MigrationError
from leadledger.db.migrations import (
    META_SCHEMA,
    CurrentFile,
    Migration,
    MigrationRunner,
    checksum,
    defined_objects,
    discover,
    discover_current,
)
from tests.helpers import catalog_snapshot, scalar

REPO = Path(__file__).resolve().parents[2]

#: Functions created by versioned migrations on purpose: the privilege helpers the table
#: migrations call (they must exist as of the migration that calls them).
VERSIONED_FUNCTIONS = {
    ("leadledger", "revoke_from_everyone"),
    ("leadledger", "secure_function"),
    ("leadledger", "secure_table"),
}


@pytest.fixture
def empty(empty_db_url: str) -> Any:
    with psycopg.connect(empty_db_url, autocommit=True) as c:
        yield c


def landed_text(source: str) -> str:
    """The text of ``<rev>:<path>`` from git, or skip where this is not a git checkout with it."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the landed texts of rewritten migrations are in git history")
    done = subprocess.run([git, "-C", str(REPO), "show", source], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"git history does not reach {source} (a shallow clone?): {done.stderr.strip()}")
    return done.stdout


def as_landed(migrations: list[Migration]) -> list[Migration]:
    """The migrations with every rewritten one as databases applied it."""
    out = []
    for m in migrations:
        for sha, source in m.replaces.items():
            text = landed_text(source)
            assert checksum(text) == sha, f"{source} is not the text the marker of {m.filename} names"
            m = replace(m, sql=text)
        out.append(m)
    return out


def test_rewritten_migrations_name_texts_that_exist() -> None:
    rewritten = [m for m in discover() if m.replaces]
    assert rewritten, "the migrations of issues 2-5 carry replaces markers"
    for m in as_landed(rewritten):
        assert "CREATE FUNCTION" in m.sql  # what was taken out: function bodies


def test_a_database_as_it_landed_upgrades_to_what_a_new_one_gets(
    db_url: str, empty: psycopg.Connection[Any]
) -> None:
    landed = as_landed(discover())
    versions = [m.version for m in landed]
    old = MigrationRunner(empty, [m for m in landed if m.version <= "20261123030300"], current=[])
    old.upgrade()  # the database of an earlier leadledger, with its function bodies
    assert scalar(empty, "SELECT to_regprocedure('leadledger.assert_tenant(uuid)') IS NOT NULL")
    upgraded = MigrationRunner(empty)  # today's files: rewritten migrations accepted by their markers
    assert all(s.checksum_ok is not False for s in upgraded.status())
    assert [m.version for m in upgraded.upgrade()] == [v for v in versions if v > "20261123030300"]
    with psycopg.connect(db_url) as fresh:
        assert catalog_snapshot(empty, exclude=(META_SCHEMA,)) == catalog_snapshot(
            fresh, exclude=(META_SCHEMA,)
        )


def test_a_changed_rewritten_file_is_still_refused(empty: psycopg.Connection[Any]) -> None:
    MigrationRunner(empty).upgrade()
    edited = [replace(m, sql=m.sql + "\n-- edited\n") if m.replaces else m for m in discover()]
    with pytest.raises(MigrationError, match="was changed after it was applied"):
        MigrationRunner(empty, edited).upgrade()


def test_every_function_view_and_trigger_is_defined_by_a_current_file(conn: psycopg.Connection[Any]) -> None:
    defined = defined_objects(discover_current())
    functions = {
        (str(s), str(n))
        for s, n in conn.execute(
            """SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname IN ('public', 'leadledger', 'leadledger_rls', 'etl_api')"""
        ).fetchall()
    }
    assert functions - set(defined["function"]) - VERSIONED_FUNCTIONS == set()
    assert set(defined["function"]) - functions == set()
    views = {
        (str(s), str(n))
        for s, n in conn.execute(
            "SELECT schemaname, viewname FROM pg_views"
            " WHERE schemaname IN ('public', 'leadledger', 'etl_api')"
        ).fetchall()
    }
    assert views == set(defined["view"])
    triggers = {
        (str(n), str(t))
        for n, t in conn.execute(
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
    }
    assert {(n, t if "." in t else f"public.{t}") for n, t in triggers} == set(defined["trigger"])
    policies = {
        (str(n), str(t))
        for n, t in conn.execute(
            "SELECT polname, polrelid::regclass::text FROM pg_policy"
            " WHERE polname <> 'leadledger_service_reads'"
        ).fetchall()
    }  # leadledger_service_reads comes with each table (secure_table, versioned)
    assert {(n, t if "." in t else f"public.{t}") for n, t in policies} == set(defined["policy"])


def test_no_function_has_two_overloads(conn: psycopg.Connection[Any]) -> None:
    """A signature change must drop the old one (a versioned DROP FUNCTION); a stale overload
    would be called by rpc() callers that pass the old arguments."""
    overloaded = conn.execute(
        """SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname IN ('public', 'leadledger', 'etl_api')
            GROUP BY 1 HAVING count(*) > 1"""
    ).fetchall()
    assert overloaded == []


def test_current_files_follow_the_rules() -> None:
    files = discover_current()
    assert files
    for f in files:
        text = re.sub(r"--[^\n]*", "", f.sql)
        for statement in re.findall(r"^\s*CREATE\s+[^\n]*", text, re.M):
            assert re.match(
                r"\s*CREATE\s+(OR\s+REPLACE\s+(FUNCTION|VIEW|TRIGGER)|CONSTRAINT\s+TRIGGER|POLICY)\s",
                statement,
                re.I,
            ), f"{f.path}: only functions, views, triggers and policies, idempotently: {statement.strip()}"
        assert not re.search(r"^\s*(BEGIN|COMMIT|ROLLBACK)\s*;", text, re.I | re.M), f.path
        for kind, name, table in re.findall(
            r"^CREATE\s+(POLICY|CONSTRAINT\s+TRIGGER)\s+(\w+).*?\bON\s+(\S+)", text, re.I | re.M | re.S
        ):
            word = "POLICY" if kind.upper() == "POLICY" else "TRIGGER"
            assert f"DROP {word} IF EXISTS {name} ON {table};" in text, f"{f.path}: {name} is not idempotent"
        if f.path != "db/sql/00_envelope.sql":  # raise_error and invalid_parameter themselves
            assert not re.search(r"\bRAISE\s+EXCEPTION\b", text, re.I), (
                f"{f.path}: raise errors with leadledger.raise_error (the envelope recognises its marker)"
            )
        for match in re.finditer(r"CREATE\s+OR\s+REPLACE\s+(?:FUNCTION|VIEW)\s+(\S+?)[\s(]", text, re.I):
            assert "." in match.group(1), f"{f.path}: {match.group(1)} must be schema-qualified"


def test_later_migrations_hold_no_functions() -> None:
    """From the current state on, versioned migrations only change tables, types and data."""
    for m in discover():
        if m.version < "20261202000000":
            continue
        text = re.sub(r"--[^\n]*", "", m.sql)
        assert not re.search(r"CREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|VIEW|PROCEDURE)\s", text, re.I), (
            m.filename
        )


def test_up_applies_the_current_state_once_and_again_when_a_file_changes(
    empty: psycopg.Connection[Any],
) -> None:
    runner = MigrationRunner(empty)
    runner.upgrade()
    assert [f.path for f in runner.current_applied] == [f.path for f in discover_current()]
    assert {s.state for s in runner.current_status()} == {"applied"}
    first = scalar(empty, f"SELECT max(applied_at) FROM {META_SCHEMA}.schema_current")

    runner.upgrade()
    assert runner.current_applied == []  # unchanged: not re-applied
    assert scalar(empty, f"SELECT max(applied_at) FROM {META_SCHEMA}.schema_current") == first

    files = discover_current()
    target = next(i for i, f in enumerate(files) if f.path == "campaigns/sql/09_campaign_status.sql")
    edited = files[target].sql.replace(
        "('paused', 'running'), ('paused', 'failed'), ('paused', 'cancelled')", "('paused', 'running')"
    )
    assert edited != files[target].sql
    files[target] = replace(files[target], sql=edited)
    changed = MigrationRunner(empty, current=files)
    assert [s.state for s in changed.current_status() if s.state != "applied"] == ["changed"]
    assert changed.upgrade() == []
    assert changed.current_applied  # the one edit re-applied the current state
    assert scalar(empty, "SELECT public.is_valid_status_transition('paused', 'cancelled')") is False
    assert {s.state for s in changed.current_status()} == {"applied"}


def test_a_failing_current_file_applies_nothing(empty: psycopg.Connection[Any]) -> None:
    MigrationRunner(empty).upgrade()
    files = discover_current()
    broken = [
        *files[:-1],
        replace(files[-1], sql=files[-1].sql + "\nSELECT 1/0;\n"),
        CurrentFile(
            "leadledger.tests",
            "99_new.sql",
            "CREATE OR REPLACE FUNCTION public.t_new() RETURNS int LANGUAGE sql AS 'SELECT 1';",
        ),
    ]
    runner = MigrationRunner(empty, current=broken)
    with pytest.raises(
        MigrationError, match=r"current-state file .* failed; the current state was not applied"
    ):
        runner.upgrade()
    assert scalar(empty, "SELECT to_regprocedure('public.t_new()')") is None
    assert {s.state for s in MigrationRunner(empty).current_status()} == {"applied"}


def test_a_partial_upgrade_leaves_the_current_state_for_later(empty: psycopg.Connection[Any]) -> None:
    runner = MigrationRunner(empty)
    runner.upgrade(discover()[0].version)
    assert runner.current_applied == []
    assert {s.state for s in runner.current_status()} == {"pending"}
    runner.upgrade()
    assert {s.state for s in runner.current_status()} == {"applied"}


def test_down_removes_the_current_state_and_up_restores_it(empty: psycopg.Connection[Any]) -> None:
    runner = MigrationRunner(empty)
    runner.upgrade()
    migrated = catalog_snapshot(empty)
    runner.downgrade()  # the latest migration: the current state goes first
    assert (
        scalar(
            empty, "SELECT to_regprocedure('public.track_campaign_cost(uuid,varchar,integer,numeric,jsonb)')"
        )
        is None
    )
    assert {s.state for s in runner.current_status()} == {"pending"}
    runner.upgrade()
    assert catalog_snapshot(empty) == migrated


def test_a_removed_file_is_reported(empty: psycopg.Connection[Any]) -> None:
    MigrationRunner(empty).upgrade()
    fewer = [f for f in discover_current() if f.path != "etl/sql/05_reads.sql"]
    states = {s.path: s.state for s in MigrationRunner(empty, current=fewer).current_status()}
    assert states["etl/sql/05_reads.sql"] == "removed"
