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
from leadledger.etl.models import (
    EtlState,
    LegacyMapping,
    LogLevel,
    StateCount,
    StateTable,
    StuckRow,
    Transition,
)


class Calls:
    @staticmethod
    def transition(
        table: StateTable | str,
        row_id: UUID,
        to: EtlState | str,
        substate: str | None = None,
        reason: str | None = None,
        organization_id: UUID | None = None,
    ) -> Call[Transition]:
        return Call(
            "etl_api.transition_state",
            {
                "p_table": str(table),
                "p_id": row_id,
                "p_to": str(to),
                "p_substate": substate,
                "p_reason": reason,
                "p_organization_id": organization_id,
            },
            TypeAdapter(Transition),
        )

    @staticmethod
    def state_counts(organization_id: UUID | None = None) -> Call[list[StateCount]]:
        return Call(
            "etl_api.get_state_counts",
            {"p_organization_id": organization_id},
            TypeAdapter(list[StateCount]),
            rows=True,
        )

    @staticmethod
    def stuck_rows(limit: int = 100, organization_id: UUID | None = None) -> Call[list[StuckRow]]:
        return Call(
            "etl_api.get_stuck_rows",
            {"p_limit": limit, "p_organization_id": organization_id},
            TypeAdapter(list[StuckRow]),
            rows=True,
        )

    @staticmethod
    def mark_timedout(
        older_than: timedelta | None, organization_id: UUID | None = None
    ) -> Call[dict[str, Any]]:
        return Call(
            "etl_api.mark_timedout",
            {"p_older_than": older_than, "p_organization_id": organization_id},
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
