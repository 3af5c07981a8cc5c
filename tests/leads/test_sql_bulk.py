"""create_leads_with_conversations: a bulk import, all or nothing, naming every bad item."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg.types.json import Jsonb

from leadledger.db import Database, ValidationError
from tests.leads.conftest import (
    SEED_DELETED_PHONE,
    SEED_PHONE,
    UNKNOWN_ID,
    Conn,
    Seed,
    assert_failed,
    call_sql,
    counts,
    ok,
    phone,
    rows,
)


def item(n: int, **fields: Any) -> dict[str, Any]:
    return {"customer_phone": phone(n), "customer_name": f"Lead {n}", "lead_type": "inquiry", **fields}


def test_imports_every_lead_with_its_conversation(pg: Conn, user_id: str) -> None:
    result = call_sql(
        pg,
        "create_leads_with_conversations",
        p_user_id=user_id,
        p_leads=[
            {"customer_phone": "+1 (512) 555-0001", "customer_name": " Ana ", "lead_type": "quote"},
            {"customer_phone": "+44 20 7946 0958", "type": "order", "details": "Via the fair"},
            {
                "customer_phone": "0055 11 91234 5678",
                "lead_type": "booking",
                "lead_status": "contacted",
                "conversation_status": "waiting",
                "customer_name": None,
                "unknown": "ignored",
            },
        ],
    )
    assert result["success"] is True, result
    assert set(result) == {"success", "created", "leads"}
    assert result["created"] == 3
    assert [r["index"] for r in result["leads"]] == [0, 1, 2]

    stored = {
        str(r["id"]): r
        for r in rows(
            pg,
            "SELECT l.*, c.id AS conversation_id, c.status AS c_status, c.user_id AS c_user"
            " FROM leads l JOIN conversations c ON c.lead_id = l.id",
        )
    }
    assert len(stored) == 3
    expected = [
        ("+15125550001", "Ana", "quote", "new", None, "active"),
        ("+442079460958", None, "order", "new", "Via the fair", "active"),
        ("+5511912345678", None, "booking", "contacted", None, "waiting"),
    ]
    for entry, (number, name, lead_type, status, details, c_status) in zip(
        result["leads"], expected, strict=True
    ):
        lead = stored[entry["lead_id"]]
        assert str(lead["conversation_id"]) == entry["conversation_id"]
        assert (lead["customer_phone"], lead["customer_name"], lead["lead_type"], lead["status"]) == (
            number,
            name,
            lead_type,
            status,
        )
        assert lead["details"] == details
        assert lead["c_status"] == c_status
        assert lead["source"] == "import"
        assert str(lead["user_id"]) == user_id
        assert str(lead["c_user"]) == user_id
    assert counts(pg) == {"leads": 3, "conversations": 3, "messages": 0, "lead_audit_log": 6}


def test_a_large_import_pairs_each_item_with_its_own_lead(pg: Conn, user_id: str) -> None:
    items = [item(n) for n in range(500)]
    result = ok(pg, "create_leads_with_conversations", p_user_id=user_id, p_leads=items)
    assert result["created"] == 500
    by_lead = {
        str(r["lead_id"]): r
        for r in rows(
            pg,
            "SELECT c.lead_id, c.id AS conversation_id, l.customer_phone FROM conversations c"
            " JOIN leads l ON l.id = c.lead_id",
        )
    }
    for n, entry in enumerate(result["leads"]):
        assert entry["index"] == n
        stored = by_lead[entry["lead_id"]]
        assert str(stored["conversation_id"]) == entry["conversation_id"]
        assert stored["customer_phone"] == phone(n)
    assert counts(pg)["conversations"] == 500


def test_phones_of_soft_deleted_leads_and_of_other_users_are_accepted(shared: Conn, seed: Seed) -> None:
    # SEED_PHONE is a live lead of the other user only; SEED_DELETED_PHONE a soft-deleted one of user_id.
    with shared.transaction(force_rollback=True):
        result = ok(
            shared,
            "create_leads_with_conversations",
            p_user_id=seed.other_user_id,
            p_leads=[item(1), {"customer_phone": SEED_DELETED_PHONE, "lead_type": "other"}],
        )
        assert result["created"] == 2
        mine = ok(
            shared,
            "create_leads_with_conversations",
            p_user_id=seed.user_id,
            p_leads=[{"customer_phone": SEED_DELETED_PHONE, "lead_type": "other"}],
        )
        assert mine["created"] == 1


def test_every_bad_item_is_listed_and_nothing_is_written(shared: Conn, seed: Seed) -> None:
    items: list[Any] = [
        item(1),  # good
        42,  # not an object
        {"customer_phone": "not a phone", "lead_type": "inquiry"},
        {"customer_phone": phone(3), "lead_type": "lead"},
        item(4),  # good
        {"customer_phone": "+1 512 555 0005", "lead_type": "order"},  # repeated in another notation below
        {"customer_phone": SEED_PHONE, "lead_type": "quote"},  # already a live lead of the user
        {"customer_phone": phone(5), "type": "order"},
        None,
        {"customer_phone": phone(7), "lead_type": "inquiry", "customer_name": 7},
        {"lead_type": "inquiry"},
    ]
    result = assert_failed(
        shared,
        "create_leads_with_conversations",
        code="22023",
        p_user_id=seed.user_id,
        p_leads=items,
    )
    assert result["errors"] == [
        {"index": 1, "field": "item", "reason": "must be a JSON object"},
        {
            "index": 2,
            "field": "customer_phone",
            "reason": "must be an E.164 number like +15125550100, got 'not a phone'",
        },
        {
            "index": 3,
            "field": "lead_type",
            "reason": "must be one of inquiry, quote, booking, order, support, complaint, other, got 'lead'",
        },
        {
            "index": 5,
            "field": "customer_phone",
            "reason": "+15125550005 appears more than once in this import",
        },
        {"index": 6, "field": "customer_phone", "reason": "+15125550100 is already a lead"},
        {
            "index": 7,
            "field": "customer_phone",
            "reason": "+15125550005 appears more than once in this import",
        },
        {"index": 8, "field": "item", "reason": "must be a JSON object"},
        {"index": 9, "field": "customer_name", "reason": "must be a string"},
        {"index": 10, "field": "customer_phone", "reason": "is required"},
    ]
    assert result["error"].startswith("9 of 11 leads are invalid: [1] item: must be a JSON object; [2] ")
    assert result["error"].endswith("; [10] customer_phone: is required")
    assert result["error_detail"] == result["error"]
    assert set(result) == {"success", "error", "error_code", "error_detail", "retry_recommended", "errors"}


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ("a string", "item", "must be a JSON object"),
        ([1, 2], "item", "must be a JSON object"),
        (True, "item", "must be a JSON object"),
        (
            {"customer_phone": "15125550001", "lead_type": "inquiry"},
            "customer_phone",
            "must be an E.164 number",
        ),
        (
            {"customer_phone": 15125550001, "lead_type": "inquiry"},
            "customer_phone",
            "must be an E.164 number",
        ),
        ({"customer_phone": "", "lead_type": "inquiry"}, "customer_phone", "is required"),
        ({"customer_phone": None, "lead_type": "inquiry"}, "customer_phone", "is required"),
        ({"customer_phone": phone(1)}, "lead_type", "is required"),
        ({"customer_phone": phone(1), "lead_type": None}, "lead_type", "is required"),
        ({"customer_phone": phone(1), "type": "Order"}, "lead_type", "got 'Order'"),
        ({**item(1), "lead_status": "won"}, "lead_status", "must be one of new, contacted"),
        ({**item(1), "conversation_status": "open"}, "conversation_status", "must be one of active, waiting"),
        ({**item(1), "customer_name": "x" * 201}, "customer_name", "must be at most 200 characters"),
        ({**item(1), "customer_name": ["Ana"]}, "customer_name", "must be a string"),
        ({**item(1), "details": {"note": 1}}, "details", "must be a string"),
    ],
)
def test_each_kind_of_bad_item(shared: Conn, seed: Seed, bad: Any, field: str, reason: str) -> None:
    result = assert_failed(
        shared,
        "create_leads_with_conversations",
        code="22023",
        p_user_id=seed.user_id,
        p_leads=[item(2), bad, item(3)],
    )
    [error] = result["errors"]
    assert error["index"] == 1
    assert error["field"] == field
    assert reason in error["reason"], error
    assert result["error"].startswith(f"1 of 3 leads are invalid: [1] {field}: ")


@pytest.mark.parametrize(
    ("leads", "message"),
    [
        ([], "p_leads: must contain at least one lead"),
        ({"customer_phone": "+15125550001"}, "p_leads: must be a JSON array, got object"),
        (Jsonb("+15125550001"), "p_leads: must be a JSON array, got string"),
        (Jsonb(3), "p_leads: must be a JSON array, got number"),
        (Jsonb(None), "p_leads: must be a JSON array, got null"),
        (None, "p_leads: must be a JSON array, got nothing"),
    ],
)
def test_empty_or_non_array_is_rejected(shared: Conn, seed: Seed, leads: Any, message: str) -> None:
    result = assert_failed(
        shared,
        "create_leads_with_conversations",
        code="22023",
        error=message,
        p_user_id=seed.user_id,
        p_leads=leads,
    )
    assert "errors" not in result


def test_too_many_items(shared: Conn, seed: Seed) -> None:
    assert_failed(
        shared,
        "create_leads_with_conversations",
        code="22023",
        error="p_leads: has 5001 items; at most 5000 are accepted per call",
        p_user_id=seed.user_id,
        p_leads=[item(n % 10000) for n in range(5001)],
    )


def test_unknown_or_missing_user(shared: Conn, seed: Seed) -> None:
    assert_failed(
        shared,
        "create_leads_with_conversations",
        code="23503",
        error="User not found",
        p_user_id=UNKNOWN_ID,
        p_leads=[item(1)],
    )
    assert_failed(
        shared,
        "create_leads_with_conversations",
        code="22023",
        error="p_user_id: is required",
        p_user_id=None,
        p_leads=[item(1)],
    )


def test_client_raises_validation_error_carrying_the_item_errors(
    database: Database, pg: Conn, user_id: str
) -> None:
    with pytest.raises(ValidationError) as info:
        database.call(
            "create_leads_with_conversations",
            p_user_id=user_id,
            p_leads=[item(1), {"customer_phone": "x", "lead_type": "inquiry"}, item(1)],
        )
    assert info.value.error_code == "22023"
    assert info.value.envelope is not None
    assert [(e["index"], e["field"]) for e in info.value.envelope["errors"]] == [
        (0, "customer_phone"),
        (1, "customer_phone"),
        (2, "customer_phone"),
    ]
    assert counts(pg)["leads"] == 0
    created = database.call("create_leads_with_conversations", p_user_id=user_id, p_leads=[item(1), item(2)])
    assert created["created"] == 2
