"""The Python enums of the leads domain match the database's CHECK constraints."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import psycopg
import pytest

from leadledger.leads.models import (
    ConversationStatus,
    LeadSource,
    LeadStatus,
    LeadType,
    MessageDirection,
    MessageStatus,
)
from tests.campaigns.test_models import check_values


@pytest.mark.parametrize(
    ("enum", "table", "column"),
    [
        (LeadType, "leads", "lead_type"),
        (LeadStatus, "leads", "status"),
        (LeadSource, "leads", "source"),
        (ConversationStatus, "conversations", "status"),
        (MessageDirection, "messages", "direction"),
        (MessageStatus, "messages", "status"),
    ],
)
def test_enum_matches_database(
    conn: psycopg.Connection[Any], enum: type[StrEnum], table: str, column: str
) -> None:
    assert {e.value for e in enum} == check_values(conn, table, column)
