"""Schema migrations: ordered, immutable ``.sql`` files, each with a rollback script.

Every domain owns its migrations in ``<domain>/migrations/<version>_<name>.sql`` (version: a
UTC timestamp, ``YYYYMMDDHHMMSS``, the Supabase CLI naming) with the rollback in
``<domain>/migrations/rollback/<version>_<name>.sql``. Versions are unique across domains and
define one global order.

How a run is made safe:

* one session-level advisory lock (:data:`ADVISORY_LOCK_KEY`) serialises every runner of one
  database, so many processes may call :func:`upgrade` at once; a runner killed mid-way releases
  it with its connection (no stale lock row to break by hand);
* each file runs in its own transaction together with the row that records it, so a file is
  either applied and recorded or neither;
* each applied file's SHA-256 is recorded and compared on every run: an applied file whose
  text changed is refused (:class:`MigrationChecksumError`) before anything is applied.

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
from datetime import datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import psycopg

from leadledger.db.errors import MigrationError

logger = logging.getLogger(__name__)

#: Packages that own migrations, in no particular order (versions give the order).
MIGRATION_PACKAGES: tuple[str, ...] = (
    "leadledger.db",
    "leadledger.campaigns",
    "leadledger.leads",
    "leadledger.outreach",
    "leadledger.etl",
)

#: pg_advisory_lock key of the migration runner: the first 8 bytes of sha256("leadledger.migrations").
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"leadledger.migrations").digest()[:8], "big", signed=True)

META_SCHEMA = "leadledger_meta"

_FILENAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")

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

    def __init__(self, conn: psycopg.Connection[Any], migrations: Sequence[Migration] | None = None):
        if not conn.autocommit:
            raise MigrationError("the migration runner needs an autocommit connection")
        self.conn = conn
        self.migrations = list(discover() if migrations is None else migrations)

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
            if migration.checksum != recorded:
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
                    checksum_ok=(rec[1] == m.checksum) if rec else None,
                )
            )
        known = {m.version for m in self.migrations}
        for version, (name, _sum, at) in sorted(applied.items()):
            if version not in known:
                states.append(MigrationState(None, version, name, at, None))
        return sorted(states, key=lambda s: s.version)

    def current_version(self) -> str | None:
        applied = self.applied()
        return max(applied) if applied else None

    # -- up / down ---------------------------------------------------------------------------
    def upgrade(self, to: str | None = None) -> list[Migration]:
        """Apply every pending migration up to ``to`` (inclusive; all when None). Idempotent."""
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
            for m in pending:
                self._rollback(m)
            if to == "0" and self._meta_exists():
                self.conn.execute(f"DROP TABLE {META_SCHEMA}.schema_migrations")
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


def export_supabase(target: Path, migrations: Sequence[Migration] | None = None) -> list[Path]:
    """Write every migration into ``target`` (a ``supabase/migrations`` folder) unchanged."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for m in discover() if migrations is None else migrations:
        path = target / m.filename
        path.write_text(m.sql, encoding="utf-8")
        written.append(path)
    return written
