"""Schema migrations and the current state.

Two kinds of SQL files, the split of Flyway's versioned and repeatable migrations (and of
Supabase's migrations and declarative schemas):

* **Versioned migrations**: tables, columns, indexes, constraints, types and data. Every domain
  owns them in ``<domain>/migrations/<version>_<name>.sql`` (version: a UTC timestamp,
  ``YYYYMMDDHHMMSS``, the Supabase CLI naming) with the rollback in
  ``<domain>/migrations/rollback/<version>_<name>.sql``. Versions are unique across domains and
  define one global order. Immutable once applied (checksummed).
* **The current state**: functions (trigger functions included), views, triggers and the grants
  on them, in ``<domain>/sql/NN_<name>.sql``: one file holds each function's current body. The
  files are idempotent (``CREATE OR REPLACE``) and are re-applied, all of them in one transaction
  in package then file order, whenever any of them changed since they were last applied. They run
  after every versioned migration, so they may use every table; a versioned migration that
  removes or re-signs one of their functions drops it (``DROP FUNCTION``) and the current state
  creates the new one.

How a run is made safe:

* one session-level advisory lock (:data:`ADVISORY_LOCK_KEY`) serialises every runner of one
  database, so many processes may call :func:`upgrade` at once; a runner killed mid-way releases
  it with its connection (no stale lock row to break by hand);
* each file runs in its own transaction together with the row that records it, so a file is
  either applied and recorded or neither;
* each applied file's SHA-256 is recorded and compared on every run: an applied file whose
  text changed is refused (:class:`MigrationChecksumError`) before anything is applied;
* the current state is applied in one transaction together with its bookkeeping rows, and only
  when every versioned migration is applied (it is written against the latest tables).

Why this is not yoyo-migrations or alembic is in docs/decisions.md.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from leadledger.db.errors import MigrationError

logger = logging.getLogger(__name__)

#: Packages that own migrations and current-state SQL. Versions order the migrations; this order
#: is the order in which the packages' current-state files are applied (core helpers first).
MIGRATION_PACKAGES: tuple[str, ...] = (
    "leadledger.db",
    "leadledger.orgs",
    "leadledger.campaigns",
    "leadledger.leads",
    "leadledger.etl",
    "leadledger.outreach",
)

#: A migration text rewritten after it landed carries the checksum of the text databases
#: applied, ``-- leadledger:replaces sha256:<hex> (git <rev>:<path>)``: the runner accepts either.
#: Only for taking out what the current state owns now (the function bodies of issues 2-5), as
#: Flyway's ``repair`` realigns checksums; tests/db/test_current_state.py rebuilds a database from
#: the texts as they landed (git) and proves it equals one built from the files as they are.
REPLACES_MARKER = re.compile(
    r"^-- leadledger:replaces sha256:(?P<sha>[0-9a-f]{64}) \(git (?P<source>\S+)\)$", re.M
)

#: pg_advisory_lock key of the migration runner: the first 8 bytes of sha256("leadledger.migrations").
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"leadledger.migrations").digest()[:8], "big", signed=True)

META_SCHEMA = "leadledger_meta"

_FILENAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
_CURRENT_FILENAME = re.compile(r"^\d{2}_[a-z0-9_]+\.sql$")

_CREATE_META = f"""
CREATE SCHEMA IF NOT EXISTS {META_SCHEMA};
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.schema_migrations (
    version     text PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL
);
COMMENT ON TABLE {META_SCHEMA}.schema_migrations IS
    'Applied leadledger migrations, with the SHA-256 of each file as applied.';
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.schema_current (
    path        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {META_SCHEMA}.schema_current IS
    'The current-state SQL files as last applied (all at once), with the SHA-256 of each.';
"""


class MigrationChecksumError(MigrationError):
    """An applied migration file's text no longer matches what was applied."""


@dataclass(frozen=True)
class Migration:
    """One migration file and its rollback."""

    version: str
    name: str
    package: str
    sql: str
    rollback_sql: str

    @property
    def checksum(self) -> str:
        return checksum(self.sql)

    @property
    def replaces(self) -> dict[str, str]:
        """Checksums of earlier texts of this file (the ``leadledger:replaces`` markers), each
        with the git revision and path that hold that text."""
        return {m["sha"]: m["source"] for m in REPLACES_MARKER.finditer(self.sql)}

    def accepts(self, recorded: str) -> bool:
        """Is ``recorded`` (a checksum in schema_migrations) this file, now or as it landed?"""
        return recorded == self.checksum or recorded in self.replaces

    @property
    def filename(self) -> str:
        return f"{self.version}_{self.name}.sql"


@dataclass(frozen=True)
class MigrationState:
    """A migration with what the database knows of it."""

    migration: Migration | None
    version: str
    name: str
    applied_at: datetime | None
    checksum_ok: bool | None


@dataclass(frozen=True)
class CurrentFile:
    """One current-state file: functions, views, triggers and their grants (re-applied on change)."""

    package: str
    name: str
    sql: str

    @property
    def path(self) -> str:
        """``<domain>/sql/<name>``: the key it is recorded under."""
        return f"{self.package.rsplit('.', 1)[-1]}/sql/{self.name}"

    @property
    def checksum(self) -> str:
        return checksum(self.sql)


@dataclass(frozen=True)
class CurrentFileState:
    """A current-state file with what the database knows of it: ``applied`` (as it is),
    ``changed`` (applied, edited since), ``pending`` (never applied) or ``removed`` (applied, no
    longer among the files)."""

    path: str
    checksum: str
    state: str
    applied_at: datetime | None


def checksum(text: str) -> str:
    """SHA-256 of a migration's text, line endings normalised (a CRLF checkout is not a change)."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def _read_package(package: str) -> Iterable[Migration]:
    try:
        root = importlib.resources.files(package) / "migrations"
    except ModuleNotFoundError:
        return
    if not root.is_dir():
        return
    rollback_dir = root / "rollback"
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.is_file() or not entry.name.endswith(".sql"):
            continue
        match = _FILENAME.match(entry.name)
        if match is None:
            raise MigrationError(
                f"{package}: migration file name {entry.name!r} is not <14-digit version>_<name>.sql"
            )
        rollback: Traversable = rollback_dir / entry.name
        if not rollback.is_file():
            raise MigrationError(f"{package}: {entry.name} has no rollback/{entry.name}")
        yield Migration(
            version=match["version"],
            name=match["name"],
            package=package,
            sql=entry.read_text(encoding="utf-8"),
            rollback_sql=rollback.read_text(encoding="utf-8"),
        )


def discover_current(packages: Sequence[str] = MIGRATION_PACKAGES) -> list[CurrentFile]:
    """Every current-state file, in application order: package order, then file name."""
    found = []
    for package in packages:
        try:
            root = importlib.resources.files(package) / "sql"
        except ModuleNotFoundError:
            continue
        if not root.is_dir():
            continue
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if not entry.is_file() or not entry.name.endswith(".sql"):
                continue
            if not _CURRENT_FILENAME.match(entry.name):
                raise MigrationError(
                    f"{package}: current-state file name {entry.name!r} is not NN_<name>.sql"
                )
            found.append(CurrentFile(package, entry.name, entry.read_text(encoding="utf-8")))
    return found


# What a current-state file defines, for `db down` (which removes it before rolling back tables)
# and for the tests that hold the database to the files. Names are schema-qualified by rule.
_QUALIFIED = r"([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)"
_DEFINES = {
    "function": re.compile(r"^CREATE\s+OR\s+REPLACE\s+FUNCTION\s+" + _QUALIFIED + r"\s*\(", re.I | re.M),
    "view": re.compile(r"^CREATE\s+OR\s+REPLACE\s+VIEW\s+" + _QUALIFIED + r"\b", re.I | re.M),
    "trigger": re.compile(
        r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\s+([a-z_][a-z0-9_]*)\s.*?\bON\s+"
        r"([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\b",
        re.I | re.M | re.S,
    ),
    "policy": re.compile(
        r"^CREATE\s+POLICY\s+([a-z_][a-z0-9_]*)\s+ON\s+([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\b", re.I | re.M
    ),
}


def defined_objects(files: Sequence[CurrentFile]) -> dict[str, list[tuple[str, str]]]:
    """``{"function": [(schema, name)], "view": [(schema, name)], "trigger": [(name, table)],
    "policy": [(name, table)]}`` of the given current-state files, in file order."""
    out: dict[str, list[tuple[str, str]]] = {kind: [] for kind in _DEFINES}
    for f in files:
        for kind, pattern in _DEFINES.items():
            for match in pattern.finditer(f.sql):
                item = (match.group(1).lower(), match.group(2).lower())
                if item not in out[kind]:
                    out[kind].append(item)
    return out


def discover(packages: Sequence[str] = MIGRATION_PACKAGES) -> list[Migration]:
    """Every migration of every package, in version order. Duplicate versions are an error."""
    found: dict[str, Migration] = {}
    for package in packages:
        for migration in _read_package(package):
            if migration.version in found:
                other = found[migration.version]
                raise MigrationError(
                    f"migration version {migration.version} is used by both "
                    f"{other.package} and {migration.package}"
                )
            found[migration.version] = migration
    return [found[v] for v in sorted(found)]


class MigrationRunner:
    """Applies and rolls back migrations on one connection (autocommit)."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        migrations: Sequence[Migration] | None = None,
        current: Sequence[CurrentFile] | None = None,
    ):
        if not conn.autocommit:
            raise MigrationError("the migration runner needs an autocommit connection")
        self.conn = conn
        self.migrations = list(discover() if migrations is None else migrations)
        self.current = list(discover_current() if current is None else current)
        #: The current-state files the last :meth:`upgrade` applied (all of them, or none).
        self.current_applied: list[CurrentFile] = []

    # -- locking -----------------------------------------------------------------------------
    def _lock(self) -> None:
        self.conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))

    def _unlock(self) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))

    # -- bookkeeping -------------------------------------------------------------------------
    def _meta_exists(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{META_SCHEMA}.schema_migrations",)
        ).fetchone()
        return bool(row and row[0])

    def applied(self) -> dict[str, tuple[str, str, datetime]]:
        """version -> (name, checksum, applied_at) of every applied migration."""
        if not self._meta_exists():
            return {}
        rows = self.conn.execute(
            f"SELECT version, name, checksum, applied_at FROM {META_SCHEMA}.schema_migrations"
        ).fetchall()
        return {str(r[0]): (str(r[1]), str(r[2]), r[3]) for r in rows}

    def _verify(self, applied: dict[str, tuple[str, str, datetime]]) -> None:
        known = {m.version: m for m in self.migrations}
        for version, (name, recorded, _at) in sorted(applied.items()):
            migration = known.get(version)
            if migration is None:
                raise MigrationError(
                    f"the database has migration {version}_{name} applied, which this version "
                    "of leadledger does not know; upgrade leadledger or roll the database back"
                )
            if not migration.accepts(recorded):
                raise MigrationChecksumError(
                    f"migration {migration.filename} ({migration.package}) was changed after it "
                    f"was applied (recorded sha256 {recorded[:12]}, file {migration.checksum[:12]}); "
                    "applied migrations are immutable: add a new migration instead"
                )

    def status(self) -> list[MigrationState]:
        applied = self.applied()
        states = []
        for m in self.migrations:
            rec = applied.get(m.version)
            states.append(
                MigrationState(
                    migration=m,
                    version=m.version,
                    name=m.name,
                    applied_at=rec[2] if rec else None,
                    checksum_ok=m.accepts(rec[1]) if rec else None,
                )
            )
        known = {m.version for m in self.migrations}
        for version, (name, _sum, at) in sorted(applied.items()):
            if version not in known:
                states.append(MigrationState(None, version, name, at, None))
        return sorted(states, key=lambda s: s.version)

    def _current_exists(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{META_SCHEMA}.schema_current",)
        ).fetchone()
        return bool(row and row[0])

    def applied_current(self) -> dict[str, tuple[str, datetime]]:
        """path -> (checksum, applied_at) of the current-state files as last applied."""
        if not self._current_exists():
            return {}
        rows = self.conn.execute(
            f"SELECT path, checksum, applied_at FROM {META_SCHEMA}.schema_current"
        ).fetchall()
        return {str(r[0]): (str(r[1]), r[2]) for r in rows}

    def current_status(self) -> list[CurrentFileState]:
        """Every current-state file (and every recorded one that is gone) with its state."""
        recorded = self.applied_current()
        states = []
        for f in self.current:
            rec = recorded.get(f.path)
            state = "pending" if rec is None else ("applied" if rec[0] == f.checksum else "changed")
            states.append(CurrentFileState(f.path, f.checksum, state, rec[1] if rec else None))
        known = {f.path for f in self.current}
        for path, (recorded_sum, at) in sorted(recorded.items()):
            if path not in known:
                states.append(CurrentFileState(path, recorded_sum, "removed", at))
        return states

    def current_version(self) -> str | None:
        applied = self.applied()
        return max(applied) if applied else None

    # -- up / down ---------------------------------------------------------------------------
    def upgrade(self, to: str | None = None) -> list[Migration]:
        """Apply every pending migration up to ``to`` (inclusive; all when None), then, once every
        migration is applied, the current state if any of its files changed. Idempotent.
        Returns the versioned migrations applied; :attr:`current_applied` tells whether the
        current state was (re)applied."""
        self._check_target(to)
        self._lock()
        try:
            self.conn.execute(_CREATE_META)
            applied = self.applied()
            self._verify(applied)
            done: list[Migration] = []
            for m in self.migrations:
                if m.version in applied or (to is not None and m.version > to):
                    continue
                self._apply(m)
                done.append(m)
            self.current_applied = []
            at_head = to is None or not self.migrations or to == self.migrations[-1].version
            if at_head and any(s.state != "applied" for s in self.current_status()):
                self._apply_current()
                self.current_applied = list(self.current)
            return done
        finally:
            self._unlock()

    def downgrade(self, to: str | None = None) -> list[Migration]:
        """Roll back applied migrations newer than ``to``; ``to`` None rolls back the latest one,
        ``"0"`` rolls back everything and removes the bookkeeping schema too."""
        if to not in (None, "0"):
            self._check_target(to)
        self._lock()
        try:
            applied = self.applied()
            self._verify(applied)
            pending = [m for m in reversed(self.migrations) if m.version in applied]
            if to is None:
                pending = pending[:1]
            elif to != "0":
                pending = [m for m in pending if m.version > to]
            if pending and self.applied_current():
                self._remove_current()
            for m in pending:
                self._rollback(m)
            if to == "0" and self._meta_exists():
                self.conn.execute(f"DROP TABLE {META_SCHEMA}.schema_migrations")
                self.conn.execute(f"DROP TABLE IF EXISTS {META_SCHEMA}.schema_current")
                self.conn.execute(f"DROP SCHEMA {META_SCHEMA}")
            return pending
        finally:
            self._unlock()

    def _check_target(self, to: str | None) -> None:
        if to is not None and to not in {m.version for m in self.migrations}:
            raise MigrationError(f"unknown migration version {to!r}")

    def _apply(self, m: Migration) -> None:
        logger.info("applying migration", extra={"version": m.version, "migration": m.name})
        started = time.perf_counter()
        try:
            with self.conn.transaction():
                self.conn.execute(m.sql.encode("utf-8"))
                self.conn.execute(
                    f"INSERT INTO {META_SCHEMA}.schema_migrations"
                    " (version, name, checksum, duration_ms) VALUES (%s, %s, %s, %s)",
                    (m.version, m.name, m.checksum, int((time.perf_counter() - started) * 1000)),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"migration {m.filename} failed and was not applied: {exc}") from exc

    def _apply_current(self) -> None:
        """Every current-state file, in order, in one transaction with its bookkeeping rows."""
        logger.info("applying the current state", extra={"files": len(self.current)})
        path = "?"
        try:
            with self.conn.transaction():
                for f in self.current:
                    path = f.path
                    self.conn.execute(f.sql.encode("utf-8"))
                self.conn.execute(f"DELETE FROM {META_SCHEMA}.schema_current")
                with self.conn.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO {META_SCHEMA}.schema_current (path, checksum) VALUES (%s, %s)",
                        [(f.path, f.checksum) for f in self.current],
                    )
        except psycopg.Error as exc:
            raise MigrationError(
                f"current-state file {path} failed; the current state was not applied: {exc}"
            ) from exc

    def _remove_current(self) -> None:
        """Drop everything the current-state files define (policies, triggers, views, then functions, no
        CASCADE: anything else that depends on them makes this fail loudly), in one transaction."""
        logger.info("removing the current state")
        objects = defined_objects(self.current)
        try:
            with self.conn.transaction():
                for name, table in objects["policy"]:
                    self.conn.execute(
                        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(
                            sql.Identifier(name), sql.Identifier(*table.split("."))
                        )
                    )
                for name, table in objects["trigger"]:
                    self.conn.execute(
                        sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                            sql.Identifier(name), sql.Identifier(*table.split("."))
                        )
                    )
                for schema, name in reversed(objects["view"]):
                    self.conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(schema, name)))
                rows = self.conn.execute(
                    """SELECT p.oid::regprocedure::text
                         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE (n.nspname, p.proname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
                          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                           WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                             AND d.deptype = 'e')""",
                    ([s for s, _ in objects["function"]], [n for _, n in objects["function"]]),
                ).fetchall()
                for (signature,) in rows:
                    self.conn.execute(f"DROP FUNCTION {signature}")  # a regprocedure, quoted by PostgreSQL
                self.conn.execute(f"DELETE FROM {META_SCHEMA}.schema_current")
        except psycopg.Error as exc:
            raise MigrationError(f"removing the current state failed; nothing was removed: {exc}") from exc

    def _rollback(self, m: Migration) -> None:
        logger.info("rolling back migration", extra={"version": m.version, "migration": m.name})
        try:
            with self.conn.transaction():
                self.conn.execute(m.rollback_sql.encode("utf-8"))
                self.conn.execute(
                    f"DELETE FROM {META_SCHEMA}.schema_migrations WHERE version = %s", (m.version,)
                )
        except psycopg.Error as exc:
            raise MigrationError(
                f"rollback of {m.filename} failed and nothing was rolled back: {exc}"
            ) from exc


CURRENT_STATE_EXPORT = "leadledger_current_state"


def current_state_sql(current: Sequence[CurrentFile]) -> str:
    """The current-state files as one script (what `db export-supabase` writes)."""
    parts = [
        "-- leadledger current state: functions, views, triggers and grants, generated by\n"
        "-- `leadledger db export-supabase` from <domain>/sql/*.sql. Idempotent; do not edit.\n"
    ]
    for f in current:
        parts.append(f"\n-- ==== {f.path} ====\n{f.sql.rstrip()}\n")
    return "".join(parts)


def export_supabase(
    target: Path,
    migrations: Sequence[Migration] | None = None,
    current: Sequence[CurrentFile] | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Write the migrations into ``target`` (a ``supabase/migrations`` folder) for the Supabase
    CLI, which applies each new version once, in version order.

    Versioned migrations are written unchanged under their own versions. The current state is
    written as one ``<version>_leadledger_current_state.sql`` whose version follows every file
    already there, and only when it differs from the newest such file in ``target``: so after a
    function changed, a new export adds one new migration (as Supabase's declarative schemas do
    with ``supabase db diff``), and an unchanged one adds nothing."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for m in discover() if migrations is None else migrations:
        path = target / m.filename
        path.write_text(m.sql, encoding="utf-8")
        written.append(path)
    state = current_state_sql(discover_current() if current is None else current)
    existing = sorted(p for p in target.iterdir() if _FILENAME.match(p.name))
    previous = [p for p in existing if p.name.endswith(f"_{CURRENT_STATE_EXPORT}.sql")]
    if previous and previous[-1].read_text(encoding="utf-8") == state:
        return written
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    newest = max((_FILENAME.match(p.name)["version"] for p in existing), default="0")  # type: ignore[index]
    if stamp <= newest:
        stamp = str(int(newest) + 1)
    path = target / f"{stamp}_{CURRENT_STATE_EXPORT}.sql"
    path.write_text(state, encoding="utf-8")
    written.append(path)
    return written
