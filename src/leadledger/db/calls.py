"""Typed calls: what every domain client shares.

A domain describes each operation once as a :class:`Call` (function name, parameters, attempts,
how to parse the result); :class:`SyncCaller` and :class:`AsyncCaller` execute it on a
:class:`~leadledger.db.Database` or :class:`~leadledger.db.AsyncDatabase`. So a domain's sync
and async clients differ only in ``await``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from leadledger.db.rpc import AsyncDatabase, Database

T = TypeVar("T")


#: The statement_timeout the batch functions declare (SET statement_timeout = '60s'); their calls
#: pass it so that the pool's shorter default does not cancel them first.
BATCH_STATEMENT_TIMEOUT = 60.0


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


class SyncCaller:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _run(self, call: Call[T]) -> T:
        run = self.db.fetch if call.rows else self.db.call
        return call.parse(
            run(
                call.function, attempts=call.attempts, statement_timeout=call.statement_timeout, **call.params
            )
        )


class AsyncCaller:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db

    async def _run(self, call: Call[T]) -> T:
        run = self.db.fetch if call.rows else self.db.call
        return call.parse(
            await run(
                call.function, attempts=call.attempts, statement_timeout=call.statement_timeout, **call.params
            )
        )
