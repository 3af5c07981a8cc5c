# WARNING: this file is generated from src/leadledger/etl/client_async.py by tools/async_to_sync.py.
# DO NOT CHANGE! Change the original file instead.
"""The ETL foundation's client: transitions, state counts, timeouts, legacy mapping and the log.
Each method is one stored-function call, built by :class:`~leadledger.etl.client_calls.Calls`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from leadledger.db.calls import SyncCaller
from leadledger.etl.client_calls import Calls
from leadledger.etl.models import EtlState, LegacyMapping, LogLevel, StateCount, StateTable, Transition


class EtlClient(SyncCaller):
    """The ETL foundation over the given :class:`~leadledger.db.Database`."""

    def transition(
        self,
        table: StateTable | str,
        row_id: UUID,
        to: EtlState | str,
        substate: str | None = None,
        reason: str | None = None,
    ) -> Transition:
        return self._run(Calls.transition(table, row_id, to, substate, reason))

    def state_counts(self) -> list[StateCount]:
        return self._run(Calls.state_counts())

    def mark_timedout(self, older_than: timedelta | None) -> int:
        """Move in_progress and waiting rows past their deadline (or in their state for longer than
        ``older_than``) to timedout; return how many moved."""
        return int(self._run(Calls.mark_timedout(older_than))["result"])

    def map_legacy_status(self, status: str) -> LegacyMapping:
        return self._run(Calls.map_legacy_status(status))[0]

    def log(self, level: LogLevel | str, message: str, context: dict[str, Any] | None = None) -> int:
        """Write one line of the ETL log; return its id."""
        return int(self._run(Calls.log(level, message, context))["result"])
