"""The database: a pool of connections and the one call path into the stored functions
(:mod:`leadledger.db.rpc` describes it), and the caller the domain clients build on.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import anyio.to_thread
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from tenacity import AsyncRetrying

from leadledger.db.database_base import Call, Envelope, Row, T, _CallPolicy, build_call, unwrap
from leadledger.db.embedded import EmbeddedServer
from leadledger.db.errors import wrap_exception
from leadledger.db.pool import check_connection, make_async_pool, resolve_database_url
from leadledger.db.settings import Settings


class AsyncDatabase(_CallPolicy):
    """A pool of connections and the call path.

    ``AsyncDatabase.connect()`` reads :class:`Settings`, starts the embedded server when no URL is
    configured, checks the server answers and opens the pool. As a context manager it opens the
    pool on entry; on exit it closes the pool and stops the embedded server it started.
    """

    def __init__(
        self, url: str, settings: Settings | None = None, *, embedded: EmbeddedServer | None = None
    ) -> None:
        self.settings = settings or Settings()
        self.url = url
        self.embedded = embedded
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = make_async_pool(url, self.settings)

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, url: str | None = None) -> Self:
        """The configured database (or the embedded one when no URL is set), checked and open.

        In the async form the blocking steps (starting the embedded server, the check) run in a
        worker thread.
        """
        settings = settings or Settings()
        embedded = None
        if url is None:
            resolved, embedded = await anyio.to_thread.run_sync(resolve_database_url, settings)
        else:
            resolved = url
        await anyio.to_thread.run_sync(check_connection, resolved, settings)
        db = cls(resolved, settings, embedded=embedded)
        await db.open()
        return db

    async def open(self) -> None:
        """Open the pool (idempotent); connections are made in the background."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        """Close the pool and stop the embedded server, if this database started one."""
        await self.pool.close()
        if self.embedded is not None:
            self.embedded.stop()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def call(
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
        async for attempt in AsyncRetrying(**self._retry_kwargs(attempts)):
            with attempt:
                rows = await self._execute(function, statement, values, statement_timeout)
                return unwrap(function, rows[0][0] if rows else None)
        raise AssertionError("unreachable: the last failed attempt re-raises its error")

    async def fetch(
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
        async for attempt in AsyncRetrying(**self._retry_kwargs(attempts)):
            with attempt:
                return await self._execute(function, statement, values, statement_timeout, as_dicts=True)
        raise AssertionError("unreachable: the last failed attempt re-raises its error")

    async def _execute(
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
            async with self.pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row) if as_dicts else conn.cursor()
                async with cur:
                    if setting is None:
                        await cur.execute(statement, values)
                        return await cur.fetchall()
                    async with conn.transaction():
                        await cur.execute("SELECT set_config('statement_timeout', %s, true)", [setting])
                        await cur.execute(statement, values)
                        return await cur.fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            raise wrap_exception(exc, function) from exc


class AsyncCaller:
    """Runs a :class:`~leadledger.db.calls.Call` on the given :class:`AsyncDatabase` and parses
    its result; each domain client is one of these with a method per operation."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db

    async def _run(self, call: Call[T]) -> T:
        run = self.db.fetch if call.rows else self.db.call
        return call.parse(
            await run(
                call.function, attempts=call.attempts, statement_timeout=call.statement_timeout, **call.params
            )
        )
