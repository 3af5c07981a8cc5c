"""create_lead_with_conversation: a lead and its conversation together, or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from leadledger.db import Database, DuplicateRecordError, ReferencedRecordNotFoundError, ValidationError
from tests.leads.conftest import (
    UNKNOWN_ID,
    Conn,
    Envelope,
    Seed,
    assert_failed,
    call_sql,
    conversations_of,
    counts,
    lead_row,
    new_lead,
    ok,
    organization_of,
    phone,
    value,
)


def test_creates_the_lead_and_its_conversation(pg: Conn, user_id: str) -> None:
    result = call_sql(
        pg,
        "create_lead_with_conversation",
        p_user_id=user_id,
        p_customer_phone="+1 (512) 555-0100",
        p_customer_name="  Ana Souza  ",
        p_lead_type="quote",
        p_details="Wants a quote for 40 chairs",
    )
    assert result == {
        "success": True,
        "lead_id": result["lead_id"],
        "conversation_id": result["conversation_id"],
        "organization_id": organization_of(pg, user_id),
        "customer_phone": "+15125550100",
    }
    lead = lead_row(pg, result["lead_id"])
    assert str(lead["user_id"]) == user_id
    assert str(lead["organization_id"]) == organization_of(pg, user_id)
    assert lead["customer_phone"] == "+15125550100"
    assert lead["customer_name"] == "Ana Souza"
    assert lead["lead_type"] == "quote"
    assert lead["status"] == "new"
    assert lead["source"] == "api"
    assert lead["details"] == "Wants a quote for 40 chairs"
    assert lead["deleted_at"] is None
    [conversation] = conversations_of(pg, result["lead_id"])
    assert str(conversation["id"]) == result["conversation_id"]
    assert str(conversation["user_id"]) == user_id
    assert conversation["organization_id"] == lead["organization_id"]
    assert conversation["status"] == "active"
    assert conversation["deleted_at"] is None
    assert conversation["last_message_at"] is None
    assert counts(pg) == {"leads": 1, "conversations": 1, "messages": 0, "lead_audit_log": 2}


def test_returns_json_as_the_seed_names_it(pg: Conn, user_id: str) -> None:
    query = "SELECT pg_typeof(create_lead_with_conversation(%s, %s, 'Ana', 'inquiry'))::text"
    assert value(pg, query, user_id, "+15125550100") == "json"
    assert value(pg, query, user_id, "not a phone") == "json"  # the failure envelope too
    assert value(pg, query, user_id, "+15125550100") == "json"  # and a duplicate (23505)
    assert counts(pg)["leads"] == 1


PHONES: list[tuple[str, str]] = [
    ("+1 (512) 555-0100", "+15125550100"),
    ("+1 512.555.0100", "+15125550100"),
    ("  +15125550100  ", "+15125550100"),
    ("+44 20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"),
    ("+55 (11) 91234-5678", "+5511912345678"),
]


def test_phone_is_stored_in_e164(pg: Conn, user_id: str) -> None:
    for written, stored in PHONES:
        result = new_lead(pg, user_id, written)
        assert result["customer_phone"] == stored, written
        assert lead_row(pg, result["lead_id"])["customer_phone"] == stored
        ok(pg, "soft_delete_lead", p_lead_id=result["lead_id"])  # frees the number for the next notation


def test_statuses_types_and_blank_name(pg: Conn, user_id: str) -> None:
    result = new_lead(
        pg, user_id, phone(1), "   ", "booking", p_conversation_status="waiting", p_lead_status="qualified"
    )
    lead = lead_row(pg, result["lead_id"])
    assert lead["customer_name"] is None
    assert lead["status"] == "qualified"
    assert lead["lead_type"] == "booking"
    assert [c["status"] for c in conversations_of(pg, result["lead_id"])] == ["waiting"]

    closed = new_lead(pg, user_id, phone(2), p_conversation_status="closed", p_lead_status="lost")
    assert [c["status"] for c in conversations_of(pg, closed["lead_id"])] == ["closed"]

    types = ["inquiry", "quote", "booking", "order", "support", "complaint", "other"]
    for n, lead_type in enumerate(types):
        created = new_lead(pg, user_id, phone(10 + n), lead_type=lead_type)
        assert lead_row(pg, created["lead_id"])["lead_type"] == lead_type


BAD_INPUTS: list[tuple[dict[str, Any], str, str]] = [
    ({"p_lead_type": "lead"}, "p_lead_type", "must be one of inquiry, quote, booking"),
    ({"p_lead_type": "Inquiry"}, "p_lead_type", "got 'Inquiry'"),
    ({"p_lead_type": None}, "p_lead_type", "is required"),
    ({"p_lead_status": "won"}, "p_lead_status", "must be one of new, contacted, qualified, converted, lost"),
    ({"p_lead_status": None}, "p_lead_status", "is required"),
    ({"p_conversation_status": "open"}, "p_conversation_status", "must be one of active, waiting, closed"),
    ({"p_conversation_status": None}, "p_conversation_status", "is required"),
    ({"p_customer_phone": None}, "p_customer_phone", "is required"),
    ({"p_customer_phone": "   "}, "p_customer_phone", "is required"),
    ({"p_customer_phone": "abc"}, "p_customer_phone", "must be an E.164 number like +15125550100, got 'abc'"),
    ({"p_customer_phone": "(512) 555-0100"}, "p_customer_phone", "got '(512) 555-0100'"),
    ({"p_customer_phone": "15125550100"}, "p_customer_phone", "must be an E.164 number"),
    ({"p_customer_phone": "+0512555010"}, "p_customer_phone", "must be an E.164 number"),
    ({"p_customer_phone": "+12345"}, "p_customer_phone", "must be an E.164 number"),
    ({"p_customer_phone": "+1234567890123456"}, "p_customer_phone", "must be an E.164 number"),
    ({"p_customer_phone": "+1 512 555 O100"}, "p_customer_phone", "must be an E.164 number"),
    ({"p_customer_name": "x" * 201}, "p_customer_name", "must be at most 200 characters"),
    ({"p_user_id": None}, "p_user_id", "is required"),
]


@pytest.mark.parametrize(("override", "field", "fragment"), BAD_INPUTS)
def test_bad_input_is_22023_and_writes_nothing(
    shared: Conn, seed: Seed, override: dict[str, Any], field: str, fragment: str
) -> None:
    params: dict[str, Any] = {
        "p_user_id": seed.user_id,
        "p_customer_phone": phone(10),
        "p_customer_name": "Ana",
        "p_lead_type": "inquiry",
        **override,
    }
    result = assert_failed(
        shared, "create_lead_with_conversation", code="22023", field=field, fragment=fragment, **params
    )
    assert result["error_detail"] == result["error"]


def test_unknown_user(shared: Conn, seed: Seed) -> None:
    result = assert_failed(
        shared,
        "create_lead_with_conversation",
        code="23503",
        error="User not found",
        p_user_id=UNKNOWN_ID,
        p_customer_phone=phone(1),
        p_customer_name="Ana",
        p_lead_type="inquiry",
    )
    assert result["error_detail"] == f"User not found (no user with id {UNKNOWN_ID})"


def test_duplicate_live_phone_is_23505(shared: Conn, seed: Seed) -> None:
    result = assert_failed(
        shared,
        "create_lead_with_conversation",
        code="23505",
        error="Duplicate record detected",
        p_user_id=seed.user_id,
        p_customer_phone="+1 512-555-0100",  # SEED_PHONE in another notation
        p_customer_name="Someone else",
        p_lead_type="order",
    )
    assert "leads_organization_phone_live_key" in result["error_detail"]


def test_same_phone_for_another_user_is_another_lead(
    pg: Conn, user_id: str, other_user_id: str, lead: Envelope
) -> None:
    other = new_lead(pg, other_user_id, "+15125550100")
    assert other["lead_id"] != lead["lead_id"]
    assert counts(pg)["leads"] == 2


def test_phone_of_a_soft_deleted_lead_can_be_used_again(pg: Conn, user_id: str, lead: Envelope) -> None:
    ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
    again = new_lead(pg, user_id, "+15125550100")
    assert again["lead_id"] != lead["lead_id"]
    assert value(pg, "SELECT count(*) FROM leads WHERE customer_phone = '+15125550100'") == 2


def test_client_raises_typed_errors_with_the_envelope(database: Database, pg: Conn, user_id: str) -> None:
    base = {"p_user_id": user_id, "p_customer_name": "Ana", "p_lead_type": "inquiry"}
    created = database.call("create_lead_with_conversation", p_customer_phone=phone(1), **base)
    assert created["success"] is True
    with pytest.raises(ValidationError) as bad:
        database.call("create_lead_with_conversation", p_customer_phone="nope", **base)
    assert bad.value.error_code == "22023"
    assert bad.value.envelope is not None
    assert bad.value.envelope["error"].startswith("p_customer_phone: ")
    with pytest.raises(DuplicateRecordError):
        database.call("create_lead_with_conversation", p_customer_phone=phone(1), **base)
    with pytest.raises(ReferencedRecordNotFoundError, match="User not found"):
        database.call(
            "create_lead_with_conversation",
            **{**base, "p_user_id": UNKNOWN_ID},
            p_customer_phone=phone(2),
        )
    assert counts(pg)["leads"] == 1
