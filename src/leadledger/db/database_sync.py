# WARNING: this file is generated from src/leadledger/db/database_async.py by tools/async_to_sync.py.
# DO NOT CHANGE! Change the original file instead.
"""The database: a pool of connections and the one call path into the stored functions
(:mod:`leadledger.db.rpc` describes it), and the caller the domain clients build on.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout
from tenacity import Retrying

from leadledger.db.database_base import Call, Envelope, Row, T, _CallPolicy, build_call, unwrap
from leadledger.db.embedded import EmbeddedServer
from leadledger.db.errors import wrap_exception
from leadledger.db.pool import check_connection, make_pool, resolve_database_url
from leadledger.db.settings import Settings


class Database(_CallPolicy):
    """A pool of connections and the call path.

    ``Database.connect()`` reads :class:`Settings`, starts the embedded server when no URL is
    configured, checks the server answers and opens the pool. As a context manager it opens the
    pool on entry; on exit it closes the pool and stops the embedded server it started.
    """

    def __init__(
        self, url: str, settings: Settings | None = None, *, embedded: EmbeddedServer | None = None
    ) -> None:
        self.settings = settings or Settings()
        self.url = url
        self.embedded = embedded
        self.pool: ConnectionPool[psycopg.Connection[Any]] = make_pool(url, self.settings)

    @classmethod
    def connect(cls, settings: Settings | None = None, *, url: str | None = None) -> Self:
        """The configured database (or the embedded one when no URL is set), checked and open.

        In the async form the blocking steps (starting the embedded server, the check) run in a
        worker thread.
        """
        settings = settings or Settings()
        embedded = None
        if url is None:
            resolved, embedded = resolve_database_url(settings)
        else:
            resolved = url
        check_connection(resolved, settings)
        db = cls(resolved, settings, embedded=embedded)
        db.open()
        return db

    def open(self) -> None:
        """Open the pool (idempotent); connections are made in the background."""
        self.pool.open(wait=False)

    def close(self) -> None:
        """Close the pool and stop the embedded server, if this database started one."""
        self.pool.close()
        if self.embedded is not None:
            self.embedded.stop()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def call(
        self,
        function: str,
        /,
        *,
        attempts: int | None = None,
        statement_timeout: float | None = None,
        **params: Any,
    ) -> Envelope:
        """Call a writing stored function; return its success envelope or raise its error."""
        statement, values = build_call(function, params, rows=False)
        for attempt in Retrying(**self._retry_kwargs(attempts)):
            with attempt:
                rows = self._execute(function, statement, values, statement_timeout)
                return unwrap(function, rows[0][0] if rows else None)
        raise AssertionError("unreachable: the last failed attempt re-raises its error")

    def fetch(
        self,
        function: str,
        /,
        *,
        attempts: int | None = None,
        statement_timeout: float | None = None,
        **params: Any,
    ) -> list[Row]:
        """Call a table-returning read function; return its rows as dicts."""
        statement, values = build_call(function, params, rows=True)
        for attempt in Retrying(**self._retry_kwargs(attempts)):
            with attempt:
                return self._execute(function, statement, values, statement_timeout, as_dicts=True)
        raise AssertionError("unreachable: the last failed attempt re-raises its error")

    def _execute(
        self,
        function: str,
        statement: sql.Composed,
        values: list[Any],
        statement_timeout: float | None,
        *,
        as_dicts: bool = False,
    ) -> list[Any]:
        setting = self._timeout_setting(statement_timeout)
        try:
            with self.pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row) if as_dicts else conn.cursor()
                with cur:
                    if setting is None:
                        cur.execute(statement, values)
                        return cur.fetchall()
                    with conn.transaction():
                        cur.execute("SELECT set_config('statement_timeout', %s, true)", [setting])
                        cur.execute(statement, values)
                        return cur.fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            raise wrap_exception(exc, function) from exc


class SyncCaller:
    """Runs a :class:`~leadledger.db.calls.Call` on the given :class:`Database` and parses
    its result; each domain client is one of these with a method per operation."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _run(self, call: Call[T]) -> T:
        run = self.db.fetch if call.rows else self.db.call
        return call.parse(
            run(
                call.function, attempts=call.attempts, statement_timeout=call.statement_timeout, **call.params
            )
        )
