"""find_lead_by_phone. (WhatsApp numbers: tests/leads/test_sql_numbers.py; users and API keys:
tests/orgs/test_sql_users_and_keys.py.)"""

from __future__ import annotations

import pytest

from tests.leads.conftest import (
    SEED_DELETED_PHONE,
    SEED_PHONE,
    UNKNOWN_ID,
    Conn,
    Seed,
    fetch_sql,
)

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
