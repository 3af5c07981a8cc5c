"""The one call path into the stored functions, sync (:class:`Database`) and async
(:class:`AsyncDatabase`).

``call("fn", p_a=1, p_b={...})`` sends ``SELECT "fn"("p_a" := 1, "p_b" := '{...}'::jsonb)`` as one
autocommit statement, unwraps the JSONB envelope and raises the typed error of
:mod:`leadledger.db.errors` when ``success`` is false. ``fetch`` does the same for table-returning
read functions. Both retry retryable errors (an envelope with ``retry_recommended``, SQLSTATEs
40001, 40P01, 55P03, 53300, 57P01 and class 08) with exponential backoff and full jitter
(tenacity's ``wait_random_exponential``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import anyio.to_thread
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from leadledger.db.embedded import EmbeddedServer
from leadledger.db.errors import (
    DatabaseError,
    LeadledgerError,
    error_from_envelope,
    is_retryable,
    wrap_exception,
)
from leadledger.db.pool import (
    check_connection,
    make_async_pool,
    make_pool,
    resolve_database_url,
    statement_timeout_ms,
)
from leadledger.db.settings import Settings

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

Envelope = dict[str, Any]
Row = dict[str, Any]


def _identifier(name: str, what: str) -> sql.Identifier:
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_NAME.match(p) for p in parts):
        raise ValueError(f"invalid {what} {name!r}: expected snake_case, optionally schema-qualified")
    return sql.Identifier(*parts)


def adapt(value: Any) -> Any:
    """Python value -> parameter: dicts and lists become jsonb, floats exact numerics."""
    if isinstance(value, Mapping | list | tuple):
        return Jsonb(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def build_call(function: str, params: Mapping[str, Any], *, rows: bool) -> tuple[sql.Composed, list[Any]]:
    """``SELECT fn(p := %s, ...)`` (or ``SELECT * FROM fn(...)`` when ``rows``) and its values."""
    fn = _identifier(function, "function name")
    args = sql.SQL(", ").join(
        sql.SQL("{} := {}").format(_identifier(k, "parameter name"), sql.Placeholder()) for k in params
    )
    template = "SELECT * FROM {}({})" if rows else "SELECT {}({})"
    return sql.SQL(template).format(fn, args), [adapt(v) for v in params.values()]


def unwrap(function: str, value: Any) -> Envelope:
    """Return a success envelope; raise the typed error of a failure envelope."""
    if not isinstance(value, dict):
        return {"success": True, "result": value}
    if value.get("success") is False:
        raise error_from_envelope(function, value)
    return value


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.warning(
        "retrying database call",
        extra={
            "attempt": state.attempt_number,
            "error": str(exc),
            "error_code": getattr(exc, "error_code", None),
        },
    )


class _CallPolicy:
    """What the sync and async clients share: settings, retry policy, statement building."""

    settings: Settings

    def _retry_kwargs(self, attempts: int | None) -> dict[str, Any]:
        s = self.settings
        return {
            "stop": stop_after_attempt(attempts if attempts is not None else s.retry_attempts),
            "wait": wait_random_exponential(multiplier=s.retry_base_delay, max=s.retry_max_delay),
            "retry": retry_if_exception(is_retryable),
            "reraise": True,
            "before_sleep": _log_retry,
        }

    @staticmethod
    def _timeout_setting(timeout: float | None) -> str | None:
        return None if timeout is None else str(statement_timeout_ms(timeout))


class Database(_CallPolicy):
    """A pool of connections and the call path, for threads and scripts.

    ``Database.connect()`` reads :class:`Settings`, starts the embedded server when no URL is
    configured, checks the server answers and opens the pool. Use it as a context manager.
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
        settings = settings or Settings()
        embedded = None
        if url is None:
            url, embedded = resolve_database_url(settings)
        check_connection(url, settings)
        db = cls(url, settings, embedded=embedded)
        db.open()
        return db

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()
        if self.embedded is not None:
            self.embedded.stop()

    def __enter__(self) -> Self:
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
        raise AssertionError("unreachable")  # pragma: no cover

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
        raise AssertionError("unreachable")  # pragma: no cover

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
                        return cur.execute(statement, values).fetchall()
                    with conn.transaction():
                        cur.execute("SELECT set_config('statement_timeout', %s, true)", [setting])
                        return cur.execute(statement, values).fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            raise wrap_exception(exc, function) from exc


class AsyncDatabase(_CallPolicy):
    """The asyncio twin of :class:`Database` (FastAPI handlers use it)."""

    def __init__(
        self, url: str, settings: Settings | None = None, *, embedded: EmbeddedServer | None = None
    ) -> None:
        self.settings = settings or Settings()
        self.url = url
        self.embedded = embedded
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = make_async_pool(url, self.settings)

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, url: str | None = None) -> Self:
        """Like :meth:`Database.connect`; the embedded server starts in a worker thread."""
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
        await self.pool.open(wait=False)

    async def close(self) -> None:
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
        statement, values = build_call(function, params, rows=False)
        async for attempt in AsyncRetrying(**self._retry_kwargs(attempts)):
            with attempt:
                rows = await self._execute(function, statement, values, statement_timeout)
                return unwrap(function, rows[0][0] if rows else None)
        raise AssertionError("unreachable")  # pragma: no cover

    async def fetch(
        self,
        function: str,
        /,
        *,
        attempts: int | None = None,
        statement_timeout: float | None = None,
        **params: Any,
    ) -> list[Row]:
        statement, values = build_call(function, params, rows=True)
        async for attempt in AsyncRetrying(**self._retry_kwargs(attempts)):
            with attempt:
                return await self._execute(function, statement, values, statement_timeout, as_dicts=True)
        raise AssertionError("unreachable")  # pragma: no cover

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


__all__ = [
    "AsyncDatabase",
    "Database",
    "DatabaseError",
    "LeadledgerError",
    "build_call",
    "unwrap",
]
