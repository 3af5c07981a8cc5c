"""soft_delete_lead and restore_lead: a lead and its conversations together, idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from leadledger.db import Database, DuplicateRecordError, ReferencedRecordNotFoundError
from tests.leads.conftest import (
    UNKNOWN_ID,
    Conn,
    Envelope,
    Seed,
    assert_failed,
    call_sql,
    conversations_of,
    fetch_sql,
    inbound,
    lead_row,
    new_lead,
    ok,
    table_state,
    value,
)


@pytest.fixture
def two_conversations(pg: Conn, user_id: str) -> Envelope:
    """A lead with a closed conversation and an open one (with a message)."""
    created = new_lead(pg, user_id, "+15125550100", p_conversation_status="closed")
    opened = inbound(pg, user_id, "wamid.a", "15125550100")
    assert opened["conversation_created"] is True
    return created


def live_ids(conn: Conn, user_id: str) -> list[str]:
    return [str(r["lead_id"]) for r in fetch_sql(conn, "list_leads", p_user_id=user_id)]


def test_soft_delete_marks_the_lead_and_its_conversations(
    pg: Conn, user_id: str, two_conversations: Envelope
) -> None:
    lead_id = two_conversations["lead_id"]
    result = call_sql(pg, "soft_delete_lead", p_lead_id=lead_id)
    assert result == {
        "success": True,
        "lead_id": lead_id,
        "changed": True,
        "deleted_at": result["deleted_at"],
        "conversations": 2,
    }
    lead = lead_row(pg, lead_id)
    assert lead["deleted_at"] is not None
    assert lead["deleted_at"] == datetime.fromisoformat(result["deleted_at"])
    assert lead["updated_at"] == lead["deleted_at"]
    assert [c["deleted_at"] for c in conversations_of(pg, lead_id)] == [lead["deleted_at"]] * 2
    assert value(pg, "SELECT count(*) FROM messages") == 1  # messages are kept


def test_soft_delete_is_idempotent(pg: Conn, user_id: str, lead: Envelope) -> None:
    first = ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"], p_user_id=user_id)
    before = table_state(pg)
    second = call_sql(pg, "soft_delete_lead", p_lead_id=lead["lead_id"], p_user_id=user_id)
    assert second == {
        "success": True,
        "lead_id": lead["lead_id"],
        "changed": False,
        "deleted_at": first["deleted_at"],
        "conversations": 0,
    }
    assert table_state(pg) == before


def test_restore_brings_back_the_lead_and_its_conversations(
    pg: Conn, user_id: str, two_conversations: Envelope
) -> None:
    lead_id = two_conversations["lead_id"]
    ok(pg, "soft_delete_lead", p_lead_id=lead_id)
    result = call_sql(pg, "restore_lead", p_lead_id=lead_id, p_user_id=user_id)
    assert result == {"success": True, "lead_id": lead_id, "changed": True, "conversations": 2}
    assert lead_row(pg, lead_id)["deleted_at"] is None
    assert [c["deleted_at"] for c in conversations_of(pg, lead_id)] == [None, None]

    before = table_state(pg)
    again = call_sql(pg, "restore_lead", p_lead_id=lead_id)
    assert again == {"success": True, "lead_id": lead_id, "changed": False, "conversations": 0}
    assert table_state(pg) == before


def test_restore_leaves_a_conversation_deleted_before_the_lead_deleted(
    pg: Conn, user_id: str, two_conversations: Envelope
) -> None:
    lead_id = two_conversations["lead_id"]
    closed = two_conversations["conversation_id"]
    pg.execute("UPDATE conversations SET deleted_at = now() - interval '1 day' WHERE id = %s", (closed,))
    deleted = ok(pg, "soft_delete_lead", p_lead_id=lead_id)
    assert deleted["conversations"] == 1
    restored = ok(pg, "restore_lead", p_lead_id=lead_id)
    assert restored["conversations"] == 1
    still_deleted = {str(c["id"]) for c in conversations_of(pg, lead_id) if c["deleted_at"] is not None}
    assert still_deleted == {closed}


def test_soft_deleted_leads_vanish_from_lists_and_come_back(pg: Conn, user_id: str) -> None:
    a = new_lead(pg, user_id, "+15125550101")["lead_id"]
    b = new_lead(pg, user_id, "+15125550102")["lead_id"]
    assert live_ids(pg, user_id) == [b, a]
    ok(pg, "soft_delete_lead", p_lead_id=a)
    assert live_ids(pg, user_id) == [b]
    assert fetch_sql(pg, "find_lead_by_phone", p_user_id=user_id, p_phone="+15125550101") == []
    assert call_sql(pg, "get_lead", p_lead_id=a)["error"] == "Lead not found"
    ok(pg, "restore_lead", p_lead_id=a)
    assert live_ids(pg, user_id) == [b, a]
    assert [
        str(r["lead_id"])
        for r in fetch_sql(pg, "find_lead_by_phone", p_user_id=user_id, p_phone="15125550101")
    ] == [a]
    assert call_sql(pg, "get_lead", p_lead_id=a)["success"] is True


def test_restore_is_refused_when_the_number_has_a_new_live_lead(
    pg: Conn, user_id: str, lead: Envelope
) -> None:
    ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
    replacement = inbound(pg, user_id, "wamid.r", "15125550100")
    assert replacement["lead_created"] is True
    result = assert_failed(
        pg, "restore_lead", code="23505", error="Duplicate record detected", p_lead_id=lead["lead_id"]
    )
    assert "leads_organization_phone_live_key" in result["error_detail"]
    assert lead_row(pg, lead["lead_id"])["deleted_at"] is not None
    assert all(c["deleted_at"] is not None for c in conversations_of(pg, lead["lead_id"]))
    assert live_ids(pg, user_id) == [replacement["lead_id"]]


@pytest.mark.parametrize("function", ["soft_delete_lead", "restore_lead"])
@pytest.mark.parametrize(
    ("which", "owner", "code", "error"),
    [
        ("other", "user", "23503", "Lead not found"),  # someone else's lead
        ("mine", "other", "23503", "Lead not found"),
        ("unknown", None, "23503", "Lead not found"),
        ("unknown", "user", "23503", "Lead not found"),
        (None, None, "22023", "p_lead_id: is required"),
    ],
)
def test_refused_calls_write_nothing(
    shared: Conn, seed: Seed, function: str, which: str | None, owner: str | None, code: str, error: str
) -> None:
    leads = {"other": seed.other_lead_id, "mine": seed.lead_id, "unknown": UNKNOWN_ID, None: None}
    owners = {"user": seed.user_id, "other": seed.other_user_id, None: None}
    params: dict[str, Any] = {"p_lead_id": leads[which], "p_user_id": owners[owner]}
    result = assert_failed(shared, function, code=code, error=error, **params)
    if code == "23503":
        assert result["error_detail"] == f"Lead not found (no lead {leads[which]} for this caller)"


def test_a_deleted_lead_is_restored_only_by_its_owner(shared: Conn, seed: Seed) -> None:
    assert_failed(
        shared,
        "restore_lead",
        code="23503",
        error="Lead not found",
        p_lead_id=seed.deleted_lead_id,
        p_user_id=seed.other_user_id,
    )


def test_client_errors(
    database: Database, pg: Conn, user_id: str, other_user_id: str, lead: Envelope
) -> None:
    with pytest.raises(ReferencedRecordNotFoundError, match="Lead not found"):
        database.call("soft_delete_lead", p_lead_id=lead["lead_id"], p_user_id=other_user_id)
    assert database.call("soft_delete_lead", p_lead_id=lead["lead_id"], p_user_id=user_id)["changed"] is True
    new_lead(pg, user_id, "+15125550100")
    with pytest.raises(DuplicateRecordError):
        database.call("restore_lead", p_lead_id=lead["lead_id"], p_user_id=user_id)
