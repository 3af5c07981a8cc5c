"""Typed clients of the ETL foundation: transitions, state counts, timeouts, legacy mapping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from leadledger.db.calls import BATCH_STATEMENT_TIMEOUT, AsyncCaller, Call, SyncCaller
from leadledger.etl.models import EtlState, LegacyMapping, LogLevel, StateCount, StateTable, Transition


class _Calls:
    @staticmethod
    def transition(
        table: StateTable | str,
        row_id: UUID,
        to: EtlState | str,
        substate: str | None = None,
        reason: str | None = None,
    ) -> Call[Transition]:
        return Call(
            "etl_api.transition_state",
            {
                "p_table": str(table),
                "p_id": row_id,
                "p_to": str(to),
                "p_substate": substate,
                "p_reason": reason,
            },
            TypeAdapter(Transition),
        )

    @staticmethod
    def state_counts() -> Call[list[StateCount]]:
        return Call("etl_api.get_state_counts", {}, TypeAdapter(list[StateCount]), rows=True)

    @staticmethod
    def mark_timedout(older_than: timedelta | None) -> Call[dict[str, Any]]:
        return Call(
            "etl_api.mark_timedout",
            {"p_older_than": older_than},
            TypeAdapter(dict[str, Any]),
            statement_timeout=BATCH_STATEMENT_TIMEOUT,
        )

    @staticmethod
    def map_legacy_status(status: str) -> Call[list[LegacyMapping]]:
        return Call(
            "etl_api.map_legacy_status", {"p_status": status}, TypeAdapter(list[LegacyMapping]), rows=True
        )

    @staticmethod
    def log(
        level: LogLevel | str, message: str, context: dict[str, Any] | None = None
    ) -> Call[dict[str, Any]]:
        return Call(
            "etl_api.logger",
            {"p_level": str(level), "p_message": message, "p_context": context},
            TypeAdapter(dict[str, Any]),
        )


class EtlClient(SyncCaller):
    """The ETL foundation over a :class:`~leadledger.db.Database`."""

    def transition(
        self,
        table: StateTable | str,
        row_id: UUID,
        to: EtlState | str,
        substate: str | None = None,
        reason: str | None = None,
    ) -> Transition:
        return self._run(_Calls.transition(table, row_id, to, substate, reason))

    def state_counts(self) -> list[StateCount]:
        return self._run(_Calls.state_counts())

    def mark_timedout(self, older_than: timedelta | None) -> int:
        return int(self._run(_Calls.mark_timedout(older_than))["result"])

    def map_legacy_status(self, status: str) -> LegacyMapping:
        return self._run(_Calls.map_legacy_status(status))[0]

    def log(self, level: LogLevel | str, message: str, context: dict[str, Any] | None = None) -> int:
        return int(self._run(_Calls.log(level, message, context))["result"])


class AsyncEtlClient(AsyncCaller):
    """The ETL foundation over an :class:`~leadledger.db.AsyncDatabase`."""

    async def transition(
        self,
        table: StateTable | str,
        row_id: UUID,
        to: EtlState | str,
        substate: str | None = None,
        reason: str | None = None,
    ) -> Transition:
        return await self._run(_Calls.transition(table, row_id, to, substate, reason))

    async def state_counts(self) -> list[StateCount]:
        return await self._run(_Calls.state_counts())

    async def mark_timedout(self, older_than: timedelta | None) -> int:
        return int((await self._run(_Calls.mark_timedout(older_than)))["result"])
