"""Owners, API keys and WhatsApp numbers: create_app_user, create_api_key, authenticate_api_key,
link_whatsapp_number, whatsapp_number_owner, and find_lead_by_phone."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from leadledger.db import Database, DuplicateRecordError, ValidationError
from tests.leads.conftest import (
    SEED_DELETED_PHONE,
    SEED_PHONE,
    UNKNOWN_ID,
    Conn,
    Seed,
    assert_failed,
    call_sql,
    fetch_sql,
    one,
    table_state,
)

# ---------------------------------------------------------------------------------------------
# create_app_user
# ---------------------------------------------------------------------------------------------


def test_create_app_user(pg: Conn) -> None:
    result = call_sql(pg, "create_app_user", p_email="  Owner@Example.COM ", p_name="Owner")
    assert result == {"success": True, "user_id": result["user_id"], "email": "owner@example.com"}
    stored = one(pg, "SELECT * FROM app_users WHERE id = %s", result["user_id"])
    assert (stored["email"], stored["name"]) == ("owner@example.com", "Owner")

    chosen = str(uuid.uuid4())  # on Supabase, the auth.users id
    explicit = call_sql(pg, "create_app_user", p_email="second@example.com", p_user_id=chosen)
    assert explicit == {"success": True, "user_id": chosen, "email": "second@example.com"}
    assert one(pg, "SELECT name FROM app_users WHERE id = %s", chosen)["name"] is None


@pytest.mark.parametrize(
    "email", [None, "", "owner", "owner@example", "a b@example.com", "@example.com", "a@@b.c"]
)
def test_create_app_user_bad_email(shared: Conn, seed: Seed, email: str | None) -> None:
    assert_failed(
        shared, "create_app_user", code="22023", error="p_email: must be an email address", p_email=email
    )


@pytest.mark.parametrize(
    "params",
    [
        {"p_email": "SEED@example.com"},  # the email is taken (case does not matter)
        {"p_email": "new@example.com", "p_user_id": "<seed user>"},  # the id is taken
    ],
)
def test_create_app_user_duplicate(shared: Conn, seed: Seed, params: dict[str, Any]) -> None:
    resolved = {k: seed.user_id if v == "<seed user>" else v for k, v in params.items()}
    assert_failed(shared, "create_app_user", code="23505", error="Duplicate record detected", **resolved)


# ---------------------------------------------------------------------------------------------
# create_api_key, authenticate_api_key
# ---------------------------------------------------------------------------------------------


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_api_keys(pg: Conn, user_id: str) -> None:
    digest = key_hash("llk_secret")
    created = call_sql(pg, "create_api_key", p_user_id=user_id, p_key_hash=digest, p_name="ci")
    assert created == {"success": True, "api_key_id": created["api_key_id"], "user_id": user_id}
    stored = one(pg, "SELECT * FROM api_keys WHERE id = %s", created["api_key_id"])
    assert (stored["key_hash"], stored["name"], stored["revoked_at"]) == (digest, "ci", None)

    found = fetch_sql(pg, "authenticate_api_key", p_key_hash=digest)
    assert [(str(r["user_id"]), str(r["api_key_id"])) for r in found] == [(user_id, created["api_key_id"])]
    assert fetch_sql(pg, "authenticate_api_key", p_key_hash=key_hash("llk_other")) == []
    assert fetch_sql(pg, "authenticate_api_key", p_key_hash=None) == []

    unnamed = call_sql(pg, "create_api_key", p_user_id=user_id, p_key_hash=key_hash("k2"), p_name=None)
    assert one(pg, "SELECT name FROM api_keys WHERE id = %s", unnamed["api_key_id"])["name"] == "default"

    pg.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (created["api_key_id"],))
    assert fetch_sql(pg, "authenticate_api_key", p_key_hash=digest) == []


@pytest.mark.parametrize(
    ("params", "code", "error"),
    [
        ({"p_key_hash": "AB" * 32}, "22023", "p_key_hash: must be a hex SHA-256 digest"),
        ({"p_key_hash": "ab" * 31}, "22023", "p_key_hash: must be a hex SHA-256 digest"),
        ({"p_key_hash": "llk_plaintext"}, "22023", "p_key_hash: must be a hex SHA-256 digest"),
        ({"p_key_hash": None}, "22023", "p_key_hash: must be a hex SHA-256 digest"),
        ({"p_key_hash": "ab" * 32}, "23505", "Duplicate record detected"),  # the seed's key
        ({"p_user_id": UNKNOWN_ID}, "23503", "User not found"),
        ({"p_user_id": None}, "22023", "p_user_id: is required"),
    ],
)
def test_create_api_key_refused(
    shared: Conn, seed: Seed, params: dict[str, Any], code: str, error: str
) -> None:
    full = {"p_user_id": seed.user_id, "p_key_hash": "cd" * 32, **params}
    assert_failed(shared, "create_api_key", code=code, error=error, **full)


# ---------------------------------------------------------------------------------------------
# link_whatsapp_number, whatsapp_number_owner
# ---------------------------------------------------------------------------------------------


def test_link_whatsapp_number(pg: Conn, user_id: str) -> None:
    result = call_sql(
        pg,
        "link_whatsapp_number",
        p_user_id=user_id,
        p_phone_number_id="106540352242922",
        p_display_phone="+1 555",
    )
    assert result == {"success": True, "phone_number_id": "106540352242922", "user_id": user_id}
    owners = fetch_sql(pg, "whatsapp_number_owner", p_phone_number_id="106540352242922")
    assert [str(r["user_id"]) for r in owners] == [user_id]

    # Linking again to the same user is fine; it updates the display phone, or keeps it.
    call_sql(pg, "link_whatsapp_number", p_user_id=user_id, p_phone_number_id="106540352242922")
    assert one(pg, "SELECT display_phone FROM whatsapp_numbers")["display_phone"] == "+1 555"
    call_sql(
        pg,
        "link_whatsapp_number",
        p_user_id=user_id,
        p_phone_number_id="106540352242922",
        p_display_phone="+2",
    )
    assert one(pg, "SELECT display_phone FROM whatsapp_numbers")["display_phone"] == "+2"

    assert fetch_sql(pg, "whatsapp_number_owner", p_phone_number_id="999999") == []


def test_relinking_to_another_user_is_refused(shared: Conn, seed: Seed) -> None:
    result = assert_failed(
        shared,
        "link_whatsapp_number",
        code="23505",
        error=f"WhatsApp number {seed.phone_number_id} belongs to another user",
        p_user_id=seed.other_user_id,
        p_phone_number_id=seed.phone_number_id,
        p_display_phone="+1 999",
    )
    assert result["error_detail"] == result["error"]
    owners = fetch_sql(shared, "whatsapp_number_owner", p_phone_number_id=seed.phone_number_id)
    assert [str(r["user_id"]) for r in owners] == [seed.user_id]


@pytest.mark.parametrize(
    ("params", "code", "error"),
    [
        (
            {"p_phone_number_id": "1234"},
            "22023",
            "p_phone_number_id: must be the numeric WhatsApp phone number id",
        ),
        ({"p_phone_number_id": "+15125550100"}, "22023", "p_phone_number_id: must be the numeric"),
        ({"p_phone_number_id": "1" * 21}, "22023", "p_phone_number_id: must be the numeric"),
        ({"p_phone_number_id": None}, "22023", "p_phone_number_id: must be the numeric"),
        ({"p_user_id": UNKNOWN_ID}, "23503", "User not found"),
        ({"p_user_id": None}, "22023", "p_user_id: is required"),
    ],
)
def test_link_whatsapp_number_refused(
    shared: Conn, seed: Seed, params: dict[str, Any], code: str, error: str
) -> None:
    full = {"p_user_id": seed.user_id, "p_phone_number_id": "5550001", **params}
    result = assert_failed(shared, "link_whatsapp_number", code=code, **full)
    assert result["error"].startswith(error)


# ---------------------------------------------------------------------------------------------
# find_lead_by_phone
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["+15125550100", "+1 (512) 555-0100", "15125550100", "0015125550100"])
def test_find_lead_by_phone_in_any_notation(shared: Conn, seed: Seed, written: str) -> None:
    found = fetch_sql(shared, "find_lead_by_phone", p_user_id=seed.user_id, p_phone=written)
    assert [(str(r["lead_id"]), r["customer_name"]) for r in found] == [(seed.lead_id, "Seed lead")]


@pytest.mark.parametrize(
    ("owner", "written"),
    [
        ("user", SEED_DELETED_PHONE),  # soft-deleted
        ("user", "+15125550111"),  # nobody
        ("user", "not a phone"),
        ("user", None),
        ("unknown", SEED_PHONE),
        (None, SEED_PHONE),
    ],
)
def test_find_lead_by_phone_finds_nothing(
    shared: Conn, seed: Seed, owner: str | None, written: str | None
) -> None:
    owners = {"user": seed.user_id, "unknown": UNKNOWN_ID, None: None}
    assert fetch_sql(shared, "find_lead_by_phone", p_user_id=owners[owner], p_phone=written) == []


def test_find_lead_by_phone_is_per_user(shared: Conn, seed: Seed) -> None:
    found = fetch_sql(shared, "find_lead_by_phone", p_user_id=seed.other_user_id, p_phone=SEED_PHONE)
    assert [str(r["lead_id"]) for r in found] == [seed.other_lead_id]


def test_client_typed_errors(database: Database, pg: Conn) -> None:
    created = database.call("create_app_user", p_email="x@example.com")
    user = str(created["user_id"])
    with pytest.raises(DuplicateRecordError):
        database.call("create_app_user", p_email="X@example.com")
    with pytest.raises(ValidationError, match="p_key_hash"):
        database.call("create_api_key", p_user_id=user, p_key_hash="short")
    database.call("link_whatsapp_number", p_user_id=user, p_phone_number_id="123456")
    other = str(database.call("create_app_user", p_email="y@example.com")["user_id"])
    before = table_state(pg)
    with pytest.raises(DuplicateRecordError, match="belongs to another user"):
        database.call("link_whatsapp_number", p_user_id=other, p_phone_number_id="123456")
    assert table_state(pg) == before
