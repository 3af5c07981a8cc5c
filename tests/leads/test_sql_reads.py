"""list_leads (keyset pagination, filters, never soft-deleted leads) and get_lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from leadledger.db import Database, ReferencedRecordNotFoundError, ValidationError
from tests.leads.conftest import (
    UNKNOWN_ID,
    Conn,
    Envelope,
    Seed,
    assert_failed,
    call_sql,
    counts,
    fetch_sql,
    inbound,
    new_lead,
    ok,
    phone,
    table_state,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def ids(found: list[dict[str, Any]]) -> list[str]:
    return [str(r["lead_id"]) for r in found]


def test_list_returns_live_leads_newest_first_with_their_conversation(
    pg: Conn, user_id: str, other_user_id: str
) -> None:
    a = new_lead(pg, user_id, phone(1), "Ana", "quote", p_details="40 chairs")
    b = new_lead(pg, user_id, phone(2), "Bruno", "order", p_lead_status="contacted")
    new_lead(pg, other_user_id, phone(3), "Not mine")
    inbound(pg, user_id, "wamid.1", phone(1), p_sent_at=T0)
    found = fetch_sql(pg, "list_leads", p_user_id=user_id)
    assert ids(found) == [b["lead_id"], a["lead_id"]]
    first = found[1]
    assert set(first) == {
        "lead_id",
        "customer_phone",
        "customer_name",
        "lead_type",
        "status",
        "source",
        "details",
        "created_at",
        "updated_at",
        "conversation_id",
        "conversation_status",
        "last_message_at",
    }
    assert (first["customer_phone"], first["customer_name"], first["lead_type"], first["status"]) == (
        phone(1),
        "Ana",
        "quote",
        "new",
    )
    assert (first["source"], first["details"]) == ("api", "40 chairs")
    assert str(first["conversation_id"]) == a["conversation_id"]
    assert (first["conversation_status"], first["last_message_at"]) == ("active", T0)
    assert found[0]["status"] == "contacted"


def test_keyset_pagination_visits_every_lead_once_in_order(pg: Conn, user_id: str) -> None:
    for n in range(4):
        new_lead(pg, user_id, phone(n))
    # Five leads created in one transaction share created_at: the id breaks the tie.
    ok(
        pg,
        "create_leads_with_conversations",
        p_user_id=user_id,
        p_leads=[{"customer_phone": phone(10 + n), "lead_type": "other"} for n in range(5)],
    )
    everything = fetch_sql(pg, "list_leads", p_user_id=user_id, p_limit=500)
    assert len(everything) == 9
    keys = [(r["created_at"], str(r["lead_id"])) for r in everything]
    assert keys == sorted(keys, reverse=True)

    pages: list[list[str]] = []
    before: tuple[datetime, str] | None = None
    while True:
        page = fetch_sql(
            pg,
            "list_leads",
            p_user_id=user_id,
            p_limit=2,
            p_before_created_at=before[0] if before else None,
            p_before_id=before[1] if before else None,
        )
        if not page:
            break
        pages.append(ids(page))
        before = (page[-1]["created_at"], str(page[-1]["lead_id"]))
    assert [len(p) for p in pages] == [2, 2, 2, 2, 1]
    assert [i for p in pages for i in p] == ids(everything)


def test_filters_by_status_type_and_search(pg: Conn, user_id: str) -> None:
    ana = new_lead(pg, user_id, "+15125550101", "Ana Souza", "quote")["lead_id"]
    bruno = new_lead(pg, user_id, "+15125550102", "Bruno Lima", "order", p_lead_status="qualified")["lead_id"]
    carla = new_lead(pg, user_id, "+442079460958", "Carla", "quote", p_lead_status="qualified")["lead_id"]
    nameless = new_lead(pg, user_id, "+15125550104", None, "support")["lead_id"]

    def listed(**filters: Any) -> set[str]:
        return set(ids(fetch_sql(pg, "list_leads", p_user_id=user_id, **filters)))

    assert listed(p_status="qualified") == {bruno, carla}
    assert listed(p_lead_type="quote") == {ana, carla}
    assert listed(p_status="qualified", p_lead_type="quote") == {carla}
    assert listed(p_status="lost") == set()
    assert listed(p_search="souza") == {ana}  # case-insensitive, part of the name
    assert listed(p_search="LIMA") == {bruno}
    assert listed(p_search="a") == {ana, bruno, carla}  # a name search never matches by phone
    assert listed(p_search="Zed") == set()
    assert listed(p_search="512 555 0102") == {bruno}  # phone digits in any notation
    assert listed(p_search="(512) 555-01") == {ana, bruno, nameless}
    assert listed(p_search="+44") == {carla}
    assert listed(p_search="0104") == {nameless}
    assert listed(p_search="qualified") == set()


def test_the_listed_conversation_is_the_open_one_else_the_latest(pg: Conn, user_id: str) -> None:
    opened = new_lead(pg, user_id, phone(1))
    pg.execute(
        "INSERT INTO conversations (organization_id, lead_id, user_id, status, created_at)"
        " SELECT organization_id, id, user_id, 'closed', now() + interval '1 hour' FROM leads WHERE id = %s",
        (opened["lead_id"],),
    )
    closed = new_lead(pg, user_id, phone(2), p_conversation_status="closed")
    later = pg.execute(
        "INSERT INTO conversations (organization_id, lead_id, user_id, status, created_at)"
        " SELECT organization_id, id, user_id, 'archived', now() + interval '1 hour' FROM leads WHERE id = %s"
        " RETURNING id",
        (closed["lead_id"],),
    ).fetchone()
    assert later is not None
    pg.execute(
        "INSERT INTO conversations (organization_id, lead_id, user_id, status, created_at, deleted_at)"
        " SELECT organization_id, id, user_id, 'active', now() + interval '2 hours', now()"
        " FROM leads WHERE id = %s",
        (closed["lead_id"],),
    )
    by_lead = {str(r["lead_id"]): r for r in fetch_sql(pg, "list_leads", p_user_id=user_id)}
    assert str(by_lead[opened["lead_id"]]["conversation_id"]) == opened["conversation_id"]
    assert by_lead[opened["lead_id"]]["conversation_status"] == "active"
    assert by_lead[closed["lead_id"]]["conversation_id"] == later[0]
    assert by_lead[closed["lead_id"]]["conversation_status"] == "archived"


def test_list_shows_only_the_callers_leads(shared: Conn, seed: Seed) -> None:
    assert ids(fetch_sql(shared, "list_leads", p_user_id=seed.other_user_id)) == [seed.other_lead_id]
    mine = ids(fetch_sql(shared, "list_leads", p_user_id=seed.user_id))
    assert mine == [seed.lead_id]  # the soft-deleted one is not listed


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"p_limit": 0}, psycopg.errors.InvalidParameterValue, "p_limit: must be between 1 and 1000"),
        ({"p_limit": 1001}, psycopg.errors.InvalidParameterValue, "p_limit: must be between 1 and 1000"),
        ({"p_limit": None}, psycopg.errors.InvalidParameterValue, "p_limit: must be between 1 and 1000"),
        (
            {"p_before_created_at": T0},
            psycopg.errors.InvalidParameterValue,
            "p_before_id: p_before_created_at and p_before_id go together",
        ),
        (
            {"p_before_id": UNKNOWN_ID},
            psycopg.errors.InvalidParameterValue,
            "p_before_id: p_before_created_at and p_before_id go together",
        ),
        ({"p_user_id": UNKNOWN_ID}, psycopg.errors.ForeignKeyViolation, "User not found"),
        ({"p_user_id": None}, psycopg.errors.InvalidParameterValue, "p_user_id: is required"),
    ],
)
def test_list_bad_input_raises(
    shared: Conn, seed: Seed, params: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        fetch_sql(shared, "list_leads", **{"p_user_id": seed.user_id, **params})
    assert str(info.value).startswith(message)


def test_client_fetch_raises_typed_errors(database: Database, pg: Conn, user_id: str) -> None:
    assert database.fetch("list_leads", p_user_id=user_id) == []
    with pytest.raises(ValidationError, match="p_limit"):
        database.fetch("list_leads", p_user_id=user_id, p_limit=1001)
    with pytest.raises(ReferencedRecordNotFoundError, match="User not found"):
        database.fetch("list_leads", p_user_id=UNKNOWN_ID)


# ---------------------------------------------------------------------------------------------
# get_lead
# ---------------------------------------------------------------------------------------------


def test_get_lead_returns_the_lead_its_conversations_and_latest_messages(
    pg: Conn, user_id: str, lead: Envelope
) -> None:
    for n in range(55):
        inbound(
            pg, user_id, f"wamid.{n:02d}", "15125550100", f"message {n}", p_sent_at=T0 + timedelta(minutes=n)
        )
    pg.execute("UPDATE conversations SET status = 'closed' WHERE id = %s", (lead["conversation_id"],))
    second = inbound(pg, user_id, "wamid.new", "15125550100", "new thread", p_payload={"raw": True})
    pg.execute(
        "INSERT INTO conversations (organization_id, lead_id, user_id, status, deleted_at)"
        " SELECT organization_id, id, user_id, 'closed', now() FROM leads WHERE id = %s",
        (lead["lead_id"],),
    )

    result = call_sql(pg, "get_lead", p_lead_id=lead["lead_id"], p_user_id=user_id)
    assert set(result) == {"success", "lead", "conversations"}
    assert result["success"] is True
    assert result["lead"]["id"] == lead["lead_id"]
    assert result["lead"]["customer_phone"] == "+15125550100"
    assert result["lead"]["customer_name"] == "Ana Souza"
    first, latest = result["conversations"]  # the soft-deleted one is left out
    assert first["id"] == lead["conversation_id"]
    assert first["status"] == "closed"
    assert [m["body"] for m in first["messages"]] == [f"message {n}" for n in range(5, 55)]
    assert latest["id"] == second["conversation_id"]
    [only] = latest["messages"]
    assert only["body"] == "new thread"
    assert "payload" not in only
    assert only["direction"] == "inbound"


def test_get_lead_without_owner_scope(pg: Conn, lead: Envelope) -> None:
    result = ok(pg, "get_lead", p_lead_id=lead["lead_id"])
    assert [c["messages"] for c in result["conversations"]] == [[]]


@pytest.mark.parametrize(
    ("which", "owner"),
    [
        ("other", "user"),
        ("mine", "other"),
        ("deleted", "user"),
        ("deleted", None),
        ("unknown", None),
        (None, None),
    ],
)
def test_get_lead_not_found(shared: Conn, seed: Seed, which: str | None, owner: str | None) -> None:
    leads = {
        "other": seed.other_lead_id,
        "mine": seed.lead_id,
        "deleted": seed.deleted_lead_id,
        "unknown": UNKNOWN_ID,
        None: None,
    }
    owners = {"user": seed.user_id, "other": seed.other_user_id, None: None}
    assert_failed(
        shared,
        "get_lead",
        code="23503",
        error="Lead not found",
        p_lead_id=leads[which],
        p_user_id=owners[owner],
    )


def test_reads_write_nothing(shared: Conn, seed: Seed) -> None:
    before = table_state(shared)
    before_counts = counts(shared)
    ok(shared, "get_lead", p_lead_id=seed.lead_id, p_user_id=seed.user_id)
    fetch_sql(shared, "list_leads", p_user_id=seed.user_id)
    fetch_sql(shared, "find_lead_by_phone", p_user_id=seed.user_id, p_phone="15125550100")
    assert table_state(shared) == before
    assert counts(shared) == before_counts
