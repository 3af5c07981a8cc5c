"""``GET /api/health``: database latency, pool statistics, migration and server version.

Answers 503 with the reason when no connection can be had within ``health_timeout`` seconds: the
one error body of the API (leadledger.api.errors) with the health report's fields in it.
"""

from __future__ import annotations

import time

import psycopg
from fastapi import APIRouter
from psycopg_pool import PoolTimeout
from pydantic import BaseModel

from leadledger import __version__
from leadledger.api.deps import DatabaseDep
from leadledger.api.errors import ServiceUnavailableError
from leadledger.db.migrations import META_SCHEMA

router = APIRouter(tags=["health"])


class DatabaseHealth(BaseModel):
    latency_ms: float
    server_version: str
    migration_version: str | None


class Health(BaseModel):
    status: str
    version: str = __version__
    database: DatabaseHealth | None = None
    pool: dict[str, int]
    reason: str | None = None


class HealthDown(Health):
    """The 503 answer: the error body's ``error`` and ``error_code`` with the report."""

    error: str
    error_code: str


@router.get("/api/health", response_model=Health, responses={503: {"model": HealthDown}})
async def health(db: DatabaseDep) -> Health:
    try:
        async with db.pool.connection(timeout=db.settings.health_timeout) as conn:
            started = time.perf_counter()
            await conn.execute("SELECT 1")
            latency_ms = (time.perf_counter() - started) * 1000
            cur = await conn.execute(
                "SELECT current_setting('server_version'), to_regclass(%s) IS NOT NULL",
                [f"{META_SCHEMA}.schema_migrations"],
            )
            row = await cur.fetchone()
            assert row is not None
            server_version, has_meta = str(row[0]), bool(row[1])
            migration_version = None
            if has_meta:
                cur = await conn.execute(f"SELECT max(version) FROM {META_SCHEMA}.schema_migrations")
                version_row = await cur.fetchone()
                migration_version = version_row[0] if version_row else None
    except (PoolTimeout, psycopg.Error) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        down = Health(
            status="unavailable", pool=db.pool.get_stats(), reason=f"database unavailable: {reason}"
        )
        raise ServiceUnavailableError(
            down.reason or "database unavailable", down.model_dump(), error_code="database_unavailable"
        ) from exc
    return Health(
        status="ok",
        database=DatabaseHealth(
            latency_ms=round(latency_ms, 3),
            server_version=server_version,
            migration_version=migration_version,
        ),
        pool=db.pool.get_stats(),
    )
