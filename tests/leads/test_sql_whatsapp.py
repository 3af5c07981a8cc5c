"""WhatsApp: record_whatsapp_message (incoming, exactly once), record_whatsapp_outgoing and
update_whatsapp_message_status (statuses only move forward)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadledger.db import Database, ReferencedRecordNotFoundError
from tests.leads.conftest import (
    FAILURE_KEYS,
    SEED_DELETED_PHONE,
    SEED_OTHER_WA_ID,
    SEED_OUT_WA_ID,
    SEED_PHONE,
    SEED_WA_ID,
    UNKNOWN_ID,
    Conn,
    Envelope,
    Seed,
    assert_failed,
    call_sql,
    conversations_of,
    counts,
    inbound,
    lead_row,
    new_lead,
    ok,
    one,
    phone,
    rows,
    table_state,
)

T0 = datetime(2026, 11, 20, 14, 3, 12, tzinfo=UTC)


def message(conn: Conn, wa_message_id: str) -> dict[str, Any]:
    return one(conn, "SELECT * FROM messages WHERE wa_message_id = %s", wa_message_id)


def sent(conn: Conn, user_id: str, wa_message_id: str) -> Envelope:
    """An outgoing message to phone(100), recorded as the service records what it sent."""
    return ok(
        conn,
        "record_whatsapp_outgoing",
        p_user_id=user_id,
        p_to_phone=phone(100),
        p_body="b",
        p_wa_message_id=wa_message_id,
    )


# ---------------------------------------------------------------------------------------------
# record_whatsapp_message
# ---------------------------------------------------------------------------------------------


def test_new_number_creates_lead_conversation_and_message(pg: Conn, user_id: str) -> None:
    result = call_sql(
        pg,
        "record_whatsapp_message",
        p_user_id=user_id,
        p_wa_message_id="wamid.HBgLMTUxMjU1NTAxMDA",
        p_from_phone="15125550100",  # WhatsApp's wa_id: digits without +
        p_body="Do you deliver on Sundays?",
        p_customer_name=" Ana ",
        p_sent_at=T0,
        p_payload={"from": "15125550100", "type": "text"},
    )
    assert result == {
        "success": True,
        "duplicate": False,
        "message_id": result["message_id"],
        "wa_message_id": "wamid.HBgLMTUxMjU1NTAxMDA",
        "lead_id": result["lead_id"],
        "conversation_id": result["conversation_id"],
        "lead_created": True,
        "conversation_created": True,
    }
    lead = lead_row(pg, result["lead_id"])
    assert (
        lead["customer_phone"],
        lead["customer_name"],
        lead["lead_type"],
        lead["status"],
        lead["source"],
    ) == (
        "+15125550100",
        "Ana",
        "inquiry",
        "new",
        "whatsapp",
    )
    [conversation] = conversations_of(pg, result["lead_id"])
    assert str(conversation["id"]) == result["conversation_id"]
    assert (conversation["channel"], conversation["status"]) == ("whatsapp", "active")
    assert conversation["last_message_at"] == T0
    stored = message(pg, "wamid.HBgLMTUxMjU1NTAxMDA")
    assert str(stored["id"]) == result["message_id"]
    assert str(stored["conversation_id"]) == result["conversation_id"]
    assert (stored["direction"], stored["message_type"], stored["status"]) == ("inbound", "text", "received")
    assert stored["body"] == "Do you deliver on Sundays?"
    assert stored["sent_at"] == T0
    assert stored["payload"] == {"from": "15125550100", "type": "text"}
    assert counts(pg) == {"leads": 1, "conversations": 1, "messages": 1, "lead_audit_log": 3}


def test_known_number_appends_to_the_open_conversation(pg: Conn, user_id: str, lead: Envelope) -> None:
    first = inbound(pg, user_id, "wamid.1", "+1 512 555 0100", "one")
    second = inbound(pg, user_id, "wamid.2", "15125550100", "two")
    for result in (first, second):
        assert result["lead_id"] == lead["lead_id"]
        assert result["conversation_id"] == lead["conversation_id"]
        assert result["lead_created"] is False
        assert result["conversation_created"] is False
        assert result["duplicate"] is False
    assert counts(pg)["leads"] == 1
    assert counts(pg)["conversations"] == 1
    bodies = rows(
        pg, "SELECT body FROM messages WHERE conversation_id = %s ORDER BY sent_at", lead["conversation_id"]
    )
    assert [r["body"] for r in bodies] == ["one", "two"]


def test_a_waiting_conversation_is_open(pg: Conn, user_id: str) -> None:
    created = new_lead(pg, user_id, phone(1), p_conversation_status="waiting")
    result = inbound(pg, user_id, "wamid.w", phone(1))
    assert result["conversation_id"] == created["conversation_id"]
    assert result["conversation_created"] is False


def test_a_closed_conversation_leads_to_a_new_open_one(pg: Conn, user_id: str) -> None:
    created = new_lead(pg, user_id, phone(1), p_conversation_status="closed")
    result = inbound(pg, user_id, "wamid.c1", phone(1))
    assert result["lead_id"] == created["lead_id"]
    assert result["lead_created"] is False
    assert result["conversation_created"] is True
    assert result["conversation_id"] != created["conversation_id"]
    statuses = {str(c["id"]): c["status"] for c in conversations_of(pg, created["lead_id"])}
    assert statuses == {created["conversation_id"]: "closed", result["conversation_id"]: "active"}
    again = inbound(pg, user_id, "wamid.c2", phone(1))
    assert again["conversation_id"] == result["conversation_id"]
    assert again["conversation_created"] is False
    assert counts(pg)["conversations"] == 2


def test_the_same_message_twice_is_stored_once(pg: Conn, user_id: str) -> None:
    first = inbound(pg, user_id, "wamid.dup", "15125550100", "original", p_sent_at=T0)
    before = table_state(pg)
    second = inbound(
        pg, user_id, "wamid.dup", "15125550100", "redelivered", p_sent_at=T0 + timedelta(hours=1)
    )
    assert second == {
        "success": True,
        "duplicate": True,
        "message_id": first["message_id"],
        "wa_message_id": "wamid.dup",
        "lead_id": first["lead_id"],
        "conversation_id": first["conversation_id"],
        "lead_created": False,
    }
    assert table_state(pg) == before  # the second delivery wrote nothing
    assert message(pg, "wamid.dup")["body"] == "original"


def test_a_soft_deleted_leads_number_creates_a_new_lead(pg: Conn, user_id: str, lead: Envelope) -> None:
    ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
    result = inbound(pg, user_id, "wamid.new", "15125550100", p_customer_name="Ana again")
    assert result["lead_created"] is True
    assert result["conversation_created"] is True
    assert result["lead_id"] != lead["lead_id"]
    assert lead_row(pg, lead["lead_id"])["deleted_at"] is not None
    assert [c["deleted_at"] is not None for c in conversations_of(pg, lead["lead_id"])] == [True]
    assert lead_row(pg, result["lead_id"])["customer_name"] == "Ana again"


def test_the_name_fills_a_nameless_lead_but_never_overwrites(pg: Conn, user_id: str) -> None:
    created = new_lead(pg, user_id, phone(1), None)
    inbound(pg, user_id, "wamid.n1", phone(1), p_customer_name="  ")
    assert lead_row(pg, created["lead_id"])["customer_name"] is None
    inbound(pg, user_id, "wamid.n2", phone(1), p_customer_name="Bruno")
    assert lead_row(pg, created["lead_id"])["customer_name"] == "Bruno"
    inbound(pg, user_id, "wamid.n3", phone(1), p_customer_name="Somebody else")
    assert lead_row(pg, created["lead_id"])["customer_name"] == "Bruno"


def test_last_message_at_never_moves_back_and_media_needs_no_body(pg: Conn, user_id: str) -> None:
    newer = inbound(pg, user_id, "wamid.t2", phone(1), p_sent_at=T0)
    inbound(
        pg, user_id, "wamid.t1", phone(1), None, p_sent_at=T0 - timedelta(minutes=5), p_message_type="image"
    )
    [conversation] = conversations_of(pg, newer["lead_id"])
    assert conversation["last_message_at"] == T0
    media = message(pg, "wamid.t1")
    assert (media["body"], media["message_type"]) == (None, "image")


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ({"p_wa_message_id": None}, "p_wa_message_id", "is required"),
        ({"p_wa_message_id": "   "}, "p_wa_message_id", "is required"),
        ({"p_wa_message_id": "w" * 257}, "p_wa_message_id", "must be at most 256 characters"),
        ({"p_from_phone": None}, "p_from_phone", "must be a phone number in international form, got nothing"),
        ({"p_from_phone": "hello"}, "p_from_phone", "got 'hello'"),
        ({"p_from_phone": "12345"}, "p_from_phone", "got '12345'"),
        ({"p_from_phone": "+0 512 555 0100"}, "p_from_phone", "international form"),
        ({"p_message_type": "Text!"}, "p_message_type", "must be a WhatsApp message type"),
        ({"p_message_type": None}, "p_message_type", "must be a WhatsApp message type"),
        ({"p_message_type": ""}, "p_message_type", "must be a WhatsApp message type"),
        ({"p_user_id": None}, "p_user_id", "is required"),
    ],
)
def test_incoming_bad_input_writes_nothing(
    shared: Conn, seed: Seed, override: dict[str, Any], field: str, fragment: str
) -> None:
    params: dict[str, Any] = {
        "p_user_id": seed.user_id,
        "p_wa_message_id": "wamid.bad",
        "p_from_phone": phone(77),
        "p_body": "hi",
        **override,
    }
    assert_failed(shared, "record_whatsapp_message", code="22023", field=field, fragment=fragment, **params)


def test_incoming_for_an_unknown_user(shared: Conn, seed: Seed) -> None:
    assert_failed(
        shared,
        "record_whatsapp_message",
        code="23503",
        error="User not found",
        p_user_id=UNKNOWN_ID,
        p_wa_message_id="wamid.nouser",
        p_from_phone=phone(78),
        p_body="hi",
    )


@pytest.mark.parametrize("function", ["record_whatsapp_message", "record_whatsapp_outgoing"])
def test_another_users_message_id_is_a_duplicate_that_names_nothing_of_theirs(
    shared: Conn, seed: Seed, function: str
) -> None:
    """A WhatsApp id already stored for another user: 23505, nothing written, and the answer
    carries none of that user's ids (a message id must not reveal another tenant's lead)."""
    phone_param = "p_from_phone" if function == "record_whatsapp_message" else "p_to_phone"
    result = assert_failed(
        shared,
        function,
        code="23505",
        error="Duplicate record detected",
        p_user_id=seed.user_id,
        p_wa_message_id=SEED_OTHER_WA_ID,
        p_body="hi",
        **{phone_param: SEED_PHONE},
    )
    assert set(result) == FAILURE_KEYS
    assert seed.other_lead_id not in str(result)
    assert seed.other_user_id not in str(result)


# ---------------------------------------------------------------------------------------------
# record_whatsapp_outgoing
# ---------------------------------------------------------------------------------------------


def test_outgoing_to_a_known_number(pg: Conn, user_id: str, lead: Envelope) -> None:
    result = call_sql(
        pg,
        "record_whatsapp_outgoing",
        p_user_id=user_id,
        p_to_phone="+1 (512) 555-0100",
        p_body="Yes, we do!",
        p_wa_message_id="wamid.out1",
    )
    assert result == {
        "success": True,
        "duplicate": False,
        "message_id": result["message_id"],
        "wa_message_id": "wamid.out1",
        "lead_id": lead["lead_id"],
        "conversation_id": lead["conversation_id"],
        "lead_created": False,
    }
    stored = message(pg, "wamid.out1")
    assert str(stored["id"]) == result["message_id"]
    assert (stored["direction"], stored["status"], stored["message_type"], stored["body"]) == (
        "outbound",
        "sent",
        "text",
        "Yes, we do!",
    )
    [conversation] = conversations_of(pg, lead["lead_id"])
    assert conversation["last_message_at"] is not None
    assert counts(pg)["leads"] == 1


def test_outgoing_with_create_lead(pg: Conn, user_id: str, lead: Envelope) -> None:
    created = ok(
        pg,
        "record_whatsapp_outgoing",
        p_user_id=user_id,
        p_to_phone="15125550177",
        p_body="Welcome",
        p_wa_message_id="wamid.out-new",
        p_create_lead=True,
        p_customer_name="Carla",
    )
    assert created["lead_created"] is True
    new = lead_row(pg, created["lead_id"])
    assert (new["customer_phone"], new["customer_name"], new["source"], new["lead_type"]) == (
        "+15125550177",
        "Carla",
        "whatsapp",
        "inquiry",
    )
    assert [str(c["id"]) for c in conversations_of(pg, created["lead_id"])] == [created["conversation_id"]]
    assert message(pg, "wamid.out-new")["conversation_id"] is not None

    known = ok(
        pg,
        "record_whatsapp_outgoing",
        p_user_id=user_id,
        p_to_phone="+15125550100",
        p_body="Hello again",
        p_wa_message_id="wamid.out-known",
        p_create_lead=True,
        p_customer_name="Not Ana",
    )
    assert known["lead_created"] is False
    assert known["lead_id"] == lead["lead_id"]
    assert lead_row(pg, lead["lead_id"])["customer_name"] == "Ana Souza"
    assert counts(pg)["leads"] == 2


def test_outgoing_to_a_closed_conversation_opens_a_new_one(pg: Conn, user_id: str) -> None:
    created = new_lead(pg, user_id, phone(1), p_conversation_status="archived")
    result = ok(
        pg,
        "record_whatsapp_outgoing",
        p_user_id=user_id,
        p_to_phone=phone(1),
        p_body="Hi",
        p_wa_message_id="w.o",
    )
    assert result["conversation_id"] != created["conversation_id"]
    assert sorted(c["status"] for c in conversations_of(pg, created["lead_id"])) == ["active", "archived"]


@pytest.mark.parametrize("number", [phone(55), SEED_DELETED_PHONE])
def test_outgoing_to_an_unknown_number_without_create_lead_is_23503(
    shared: Conn, seed: Seed, number: str
) -> None:
    result = assert_failed(
        shared,
        "record_whatsapp_outgoing",
        code="23503",
        error="No lead for this number",
        p_user_id=seed.user_id,
        p_to_phone=number,
        p_body="Hi",
        p_wa_message_id="wamid.nolead",
    )
    assert (
        result["error_detail"]
        == f"No lead for this number (organization {seed.organization_id} has no live lead for {number})"
    )


@pytest.mark.parametrize(
    ("override", "code", "error"),
    [
        (
            {"p_to_phone": "nope"},
            "22023",
            "p_to_phone: must be a phone number in international form, got 'nope'",
        ),
        (
            {"p_to_phone": None},
            "22023",
            "p_to_phone: must be a phone number in international form, got nothing",
        ),
        ({"p_wa_message_id": None}, "22023", "p_wa_message_id: is required"),
        ({"p_wa_message_id": ""}, "22023", "p_wa_message_id: is required"),
        ({"p_wa_message_id": "w" * 257}, "22023", "p_wa_message_id: must be at most 256 characters"),
        ({"p_create_lead": True}, "22023", "p_customer_name: is required to create a lead"),
        (
            {"p_create_lead": True, "p_customer_name": " "},
            "22023",
            "p_customer_name: is required to create a lead",
        ),
        ({"p_user_id": UNKNOWN_ID}, "23503", "User not found"),
        (
            {"p_wa_message_id": SEED_OTHER_WA_ID},
            "23505",
            "Duplicate record detected",
        ),
    ],
)
def test_outgoing_bad_input_writes_nothing(
    shared: Conn, seed: Seed, override: dict[str, Any], code: str, error: str
) -> None:
    params: dict[str, Any] = {
        "p_user_id": seed.user_id,
        "p_to_phone": SEED_PHONE,
        "p_body": "Hi",
        "p_wa_message_id": "wamid.out-bad",
        **override,
    }
    assert_failed(shared, "record_whatsapp_outgoing", code=code, error=error, **params)


def test_a_retried_outgoing_record_is_a_duplicate_and_writes_nothing(shared: Conn, seed: Seed) -> None:
    """The service retries a record whose commit it did not hear about: the same answer, once."""
    before = table_state(shared)
    for create_lead in (False, True):
        again = ok(
            shared,
            "record_whatsapp_outgoing",
            p_user_id=seed.user_id,
            p_to_phone=SEED_PHONE,
            p_body="Hello",
            p_wa_message_id=SEED_OUT_WA_ID,
            p_create_lead=create_lead,
            p_customer_name="Seed lead",
        )
        assert again == {
            "success": True,
            "duplicate": True,
            "message_id": again["message_id"],
            "wa_message_id": SEED_OUT_WA_ID,
            "lead_id": seed.lead_id,
            "conversation_id": seed.conversation_id,
            "lead_created": False,
        }
        assert again["message_id"] == str(message(shared, SEED_OUT_WA_ID)["id"])
    assert table_state(shared) == before


def test_client_raises_not_found_for_an_unknown_number(database: Database, pg: Conn, user_id: str) -> None:
    with pytest.raises(ReferencedRecordNotFoundError, match="No lead for this number"):
        database.call(
            "record_whatsapp_outgoing",
            p_user_id=user_id,
            p_to_phone=phone(1),
            p_body="x",
            p_wa_message_id="w.1",
        )
    assert counts(pg) == {"leads": 0, "conversations": 0, "messages": 0, "lead_audit_log": 0}


# ---------------------------------------------------------------------------------------------
# update_whatsapp_message_status
# ---------------------------------------------------------------------------------------------

RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


def test_statuses_only_move_forward(pg: Conn, user_id: str, lead: Envelope) -> None:
    """Every (current, notified) pair: sent < delivered < read; failed only from sent, and final."""
    n = 0
    for current in RANK:
        for notified in RANK:
            n += 1
            wa_id = f"wamid.s{n}"
            sent(pg, user_id, wa_id)
            if current != "sent":
                ok(pg, "update_whatsapp_message_status", p_wa_message_id=wa_id, p_status=current)
            result = call_sql(pg, "update_whatsapp_message_status", p_wa_message_id=wa_id, p_status=notified)
            if notified == "failed":
                moves = current == "sent"  # a delivered or read message did not fail
            else:
                moves = RANK[notified] > RANK[current] and current != "failed"
            expected = notified if moves else current
            assert result == {
                "success": True,
                "wa_message_id": wa_id,
                "status": expected,
                "updated": moves,
            }, (
                current,
                notified,
            )
            assert message(pg, wa_id)["status"] == expected


def test_status_time_and_error_are_recorded(pg: Conn, user_id: str, lead: Envelope) -> None:
    sent(pg, user_id, "w.t")
    sent(pg, user_id, "w.d")
    ok(pg, "update_whatsapp_message_status", p_wa_message_id="w.d", p_status="delivered", p_at=T0)
    stored = message(pg, "w.d")
    assert (stored["status"], stored["status_updated_at"], stored["error"]) == ("delivered", T0, None)
    error = {"code": 131047, "title": "Re-engagement message"}
    ok(pg, "update_whatsapp_message_status", p_wa_message_id="w.t", p_status="failed", p_at=T0, p_error=error)
    stored = message(pg, "w.t")
    assert (stored["status"], stored["status_updated_at"], stored["error"]) == ("failed", T0, error)
    for late_status in ("delivered", "read"):
        late = ok(
            pg,
            "update_whatsapp_message_status",
            p_wa_message_id="w.t",
            p_status=late_status,
            p_at=T0 + timedelta(1),
        )
        assert late["updated"] is False
    stored = message(pg, "w.t")
    assert (stored["status"], stored["status_updated_at"], stored["error"]) == ("failed", T0, error)
    # a delivered message did not fail: the error is not recorded either
    late = ok(pg, "update_whatsapp_message_status", p_wa_message_id="w.d", p_status="failed", p_error=error)
    assert (late["status"], late["updated"]) == ("delivered", False)
    assert message(pg, "w.d")["error"] is None


def test_a_status_for_an_inbound_message_changes_nothing(shared: Conn, seed: Seed) -> None:
    before = table_state(shared)
    for status in ("sent", "delivered", "read", "failed"):
        result = ok(shared, "update_whatsapp_message_status", p_wa_message_id=SEED_WA_ID, p_status=status)
        assert result == {
            "success": True,
            "wa_message_id": SEED_WA_ID,
            "status": "received",
            "updated": False,
        }
    assert table_state(shared) == before


def test_a_stale_notification_writes_nothing(shared: Conn, seed: Seed) -> None:
    before = table_state(shared)
    result = ok(shared, "update_whatsapp_message_status", p_wa_message_id=SEED_OUT_WA_ID, p_status="sent")
    assert result == {"success": True, "wa_message_id": SEED_OUT_WA_ID, "status": "sent", "updated": False}
    assert table_state(shared) == before


@pytest.mark.parametrize(
    ("wa_id", "status", "code", "error"),
    [
        ("wamid.unknown", "read", "23503", "Message not found"),
        (None, "read", "22023", "p_wa_message_id: is required"),
        ("", "read", "22023", "p_wa_message_id: is required"),
        (
            SEED_OUT_WA_ID,
            "received",
            "22023",
            "p_status: must be sent, delivered, read or failed, got 'received'",
        ),
        (SEED_OUT_WA_ID, "seen", "22023", "p_status: must be sent, delivered, read or failed, got 'seen'"),
        (SEED_OUT_WA_ID, "READ", "22023", "p_status: must be sent, delivered, read or failed, got 'READ'"),
        (SEED_OUT_WA_ID, None, "22023", "p_status: must be sent, delivered, read or failed, got nothing"),
    ],
)
def test_status_bad_input_writes_nothing(
    shared: Conn, seed: Seed, wa_id: str | None, status: str | None, code: str, error: str
) -> None:
    assert_failed(
        shared,
        "update_whatsapp_message_status",
        code=code,
        error=error,
        p_wa_message_id=wa_id,
        p_status=status,
    )
