"""The ETL foundation's operations, written once for both clients: :class:`Calls` turns a
method's arguments into a :class:`~leadledger.db.calls.Call`; the clients
(:mod:`leadledger.etl.client`) only execute it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from leadledger.db.calls import BATCH_STATEMENT_TIMEOUT, Call
from leadledger.etl.models import EtlState, LegacyMapping, LogLevel, StateCount, StateTable, Transition


class Calls:
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
