"""Choosing the server and opening connection pools (psycopg_pool, sync and async).

Every pooled connection is autocommit, renders parameters client-side (``ClientCursor``: each
call travels as one plain ``SELECT fn(...)`` statement with literal parameters, which poolers
and a future Citus router handle as-is) and carries the configured ``statement_timeout``, so the
server itself cancels a runaway call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from leadledger.db.embedded import EmbeddedServer
from leadledger.db.errors import ConfigurationError, DatabaseUnavailableError
from leadledger.db.settings import Settings

APPLICATION_NAME = "leadledger"


def validate_url(url: str) -> str:
    """Check that ``url`` is a PostgreSQL URL or conninfo string; return it unchanged."""
    text = url.strip()
    if not text:
        raise ConfigurationError("invalid database URL: it is empty")
    if "://" in text and not text.startswith(("postgresql://", "postgres://")):
        scheme = text.split("://", 1)[0]
        raise ConfigurationError(
            f"invalid database URL: scheme {scheme!r} is not postgresql:// or postgres://"
        )
    if "://" not in text and "=" not in text:
        raise ConfigurationError(
            "invalid database URL: expected postgresql://user@host:port/dbname or key=value pairs"
        )
    try:
        params = conninfo_to_dict(text)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "malformed"
        raise ConfigurationError(f"invalid database URL: {reason}") from exc
    for port in str(params.get("port") or "").split(","):
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ConfigurationError(f"invalid database URL: port {port!r} is not a number from 1 to 65535")
    return text


def resolve_database_url(settings: Settings) -> tuple[str, EmbeddedServer | None]:
    """The URL to use: the configured one, or the embedded server's (started on demand)."""
    if settings.database_url:
        return validate_url(settings.database_url), None
    server = EmbeddedServer(settings.embedded_data_dir)
    return server.start(), server


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID | datetime | date | time):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    """JSON for jsonb parameters: Decimals as numbers, UUIDs and datetimes as strings."""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def json_loads(data: str | bytes) -> Any:
    """JSON numbers with a fraction load as Decimal: money and totals keep their exact value."""
    return json.loads(data, parse_float=Decimal)


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        "autocommit": True,
        "connect_timeout": settings.connect_timeout,
        "application_name": APPLICATION_NAME,
        "cursor_factory": psycopg.ClientCursor,
    }


def statement_timeout_ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def check_connection(url: str, settings: Settings) -> None:
    """Open and close one connection, turning failure into a one-line error naming the cause."""
    try:
        with psycopg.connect(url, connect_timeout=settings.connect_timeout) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DatabaseUnavailableError(f"cannot connect to the database: {reason}") from exc


def make_pool(url: str, settings: Settings) -> ConnectionPool[psycopg.Connection[Any]]:
    timeout_ms = statement_timeout_ms(settings.statement_timeout)

    def configure(conn: psycopg.Connection[Any]) -> None:
        set_json_loads(json_loads, conn)
        set_json_dumps(json_dumps, conn)
        conn.execute(f"SET statement_timeout = {timeout_ms}")

    return ConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        max_idle=settings.pool_max_idle,
        timeout=settings.pool_timeout,
        kwargs=connection_kwargs(settings),
        configure=configure,
        name="leadledger",
        open=False,
    )


def make_async_pool(url: str, settings: Settings) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    timeout_ms = statement_timeout_ms(settings.statement_timeout)

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        set_json_loads(json_loads, conn)
        set_json_dumps(json_dumps, conn)
        await conn.execute(f"SET statement_timeout = {timeout_ms}")

    kwargs = connection_kwargs(settings)
    kwargs["cursor_factory"] = psycopg.AsyncClientCursor
    return AsyncConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        max_idle=settings.pool_max_idle,
        timeout=settings.pool_timeout,
        kwargs=kwargs,
        configure=configure,
        name="leadledger-async",
        open=False,
    )


@contextmanager
def direct_connection(
    settings: Settings, *, url: str | None = None
) -> Iterator[tuple[psycopg.Connection[Any], str]]:
    """One autocommit connection outside the pool (migrations, admin commands), with the URL it
    went to; starts and releases the embedded server when no URL is configured."""
    embedded = None
    if url is None:
        url, embedded = resolve_database_url(settings)
    try:
        check_connection(url, settings)
        with psycopg.connect(url, autocommit=True, connect_timeout=settings.connect_timeout) as conn:
            yield conn, url
    finally:
        if embedded is not None:
            embedded.stop()
