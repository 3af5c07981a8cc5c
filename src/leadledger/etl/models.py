"""Models of the ETL foundation. :class:`EtlState` mirrors the four state enums of etl_api."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class EtlState(StrEnum):
    NEW = "new"
    VALID = "valid"
    INVALID = "invalid"
    WAITING = "waiting"
    READY = "ready"
    IN_PROGRESS = "in_progress"
    TIMEDOUT = "timedout"
    FAILED = "failed"
    DONE = "done"
    DELIVERED = "delivered"


class StateTable(StrEnum):
    """The tables whose rows move through the state machine."""

    ACTIVITY_REQUEST = "activity_request"
    RUN_QUEUE = "run_queue"
    RUN_REQUEST = "run_request"
    WORKFLOW_REQUEST = "workflow_request"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


#: The allowed transitions, as etl_api.is_valid_state_transition has them.
TRANSITIONS: dict[EtlState, frozenset[EtlState]] = {
    EtlState.NEW: frozenset({EtlState.VALID, EtlState.INVALID}),
    EtlState.VALID: frozenset({EtlState.READY, EtlState.WAITING}),
    EtlState.READY: frozenset({EtlState.IN_PROGRESS}),
    EtlState.IN_PROGRESS: frozenset({EtlState.DONE, EtlState.FAILED, EtlState.TIMEDOUT}),
    EtlState.WAITING: frozenset({EtlState.READY, EtlState.INVALID, EtlState.TIMEDOUT}),
    EtlState.DONE: frozenset({EtlState.DELIVERED}),
}


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Transition(_Result):
    table: StateTable
    id: UUID
    from_state: EtlState = Field(alias="from")
    to_state: EtlState = Field(alias="to")
    substate: str | None
    at: datetime


class StateCount(_Result):
    table_name: StateTable
    state: EtlState
    rows: int


class StuckRow(_Result):
    table_name: StateTable
    id: UUID
    org_id: UUID
    state: EtlState
    state_substate: str | None
    state_changed_at: datetime
    deadline: datetime
    overdue: timedelta


class LegacyMapping(_Result):
    state: EtlState
    substate: str | None
