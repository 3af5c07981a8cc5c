"""What the async database (:mod:`leadledger.db.database_async`) and the sync one generated from
it (:mod:`leadledger.db.database_sync`) share, written once: statement building, envelope
unwrapping, the retry policy, and :class:`Call`, one typed stored-function call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter
from tenacity import RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from leadledger.db.errors import error_from_envelope, is_retryable
from leadledger.db.pool import statement_timeout_ms
from leadledger.db.settings import Settings

#: The logger keeps the name of the module that used to hold the whole call path.
logger = logging.getLogger("leadledger.db.rpc")

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

Envelope = dict[str, Any]
Row = dict[str, Any]

T = TypeVar("T")

#: The statement_timeout the batch functions declare (SET statement_timeout = '60s'); their calls
#: pass it so that the pool's shorter default does not cancel them first.
BATCH_STATEMENT_TIMEOUT = 60.0


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
    """What the sync and async databases share: settings, retry policy, statement timeouts."""

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


@dataclass(frozen=True)
class Call(Generic[T]):
    """One stored-function call and the type of its parsed result."""

    function: str
    params: dict[str, Any]
    result: TypeAdapter[T]
    rows: bool = False
    attempts: int | None = None
    #: Seconds, for functions that declare a longer statement_timeout than the pool's (a
    #: function's own SET does not extend the statement that calls it).
    statement_timeout: float | None = None

    def parse(self, value: Any) -> T:
        return self.result.validate_python(value)
