"""No lead without its conversation: a failure injected between the two inserts leaves no orphan,
and the database itself (the deferred constraint triggers) refuses one at COMMIT."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.leads.conftest import (
    Conn,
    Envelope,
    call_sql,
    counts,
    new_lead,
    organization_of,
    phone,
    table_state,
    value,
)

INJECT = """
CREATE FUNCTION public.inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'injected failure';
END
$$;
CREATE TRIGGER inject_failure BEFORE INSERT ON public.conversations
    FOR EACH ROW EXECUTE FUNCTION public.inject_failure();
"""


@pytest.fixture
def failing_conversations(pg: Conn) -> Conn:
    """Every insert into conversations fails (after the lead's insert has run)."""
    pg.execute(INJECT)
    return pg


CALLS: list[tuple[str, dict[str, Any]]] = [
    (
        "create_lead_with_conversation",
        {"p_customer_phone": "+15125550100", "p_customer_name": "Ana", "p_lead_type": "inquiry"},
    ),
    (
        "create_leads_with_conversations",
        {"p_leads": [{"customer_phone": phone(n), "lead_type": "inquiry"} for n in range(3)]},
    ),
    (
        "record_whatsapp_message",
        {
            "p_wa_message_id": "wamid.x",
            "p_from_phone": "15125550100",
            "p_body": "hi",
            "p_customer_name": "Ana",
        },
    ),
    (
        "record_whatsapp_outgoing",
        {
            "p_to_phone": "+15125550100",
            "p_body": "hi",
            "p_wa_message_id": "wamid.y",
            "p_create_lead": True,
            "p_customer_name": "Ana",
        },
    ),
]


@pytest.mark.parametrize(("function", "params"), CALLS, ids=[c[0] for c in CALLS])
def test_a_failure_between_the_two_inserts_leaves_no_orphan(
    failing_conversations: Conn, user_id: str, function: str, params: dict[str, Any]
) -> None:
    pg = failing_conversations
    before = table_state(pg)
    result = call_sql(pg, function, p_user_id=user_id, **params)
    assert result == {
        "success": False,
        "error": "injected failure",
        "error_code": "P0001",
        "error_detail": "injected failure",
        "retry_recommended": False,
    }
    assert counts(pg) == {"leads": 0, "conversations": 0, "messages": 0, "lead_audit_log": 0}
    assert table_state(pg) == before
    # and the lead's insert really had run before the failure: without the trigger it works
    pg.execute("DROP TRIGGER inject_failure ON public.conversations")
    assert call_sql(pg, function, p_user_id=user_id, **params)["success"] is True


def insert_bare_lead(conn: Conn, user_id: str, number: str = "+15125550100") -> str:
    row = conn.execute(
        "INSERT INTO leads (organization_id, user_id, customer_phone, lead_type)"
        " VALUES (%s, %s, %s, 'inquiry') RETURNING id",
        (organization_of(conn, user_id), user_id, number),
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_a_lead_inserted_alone_fails_at_commit(pg: Conn, user_id: str) -> None:
    pg.execute("BEGIN")
    lead_id = insert_bare_lead(pg, user_id)
    assert value(pg, "SELECT count(*) FROM leads") == 1  # the INSERT itself succeeds: the check is deferred
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation) as info:
        pg.execute("COMMIT")
    assert info.value.sqlstate == "23000"
    assert str(info.value).startswith(f"lead {lead_id} has no conversation")
    assert info.value.diag.message_hint == "create leads with create_lead_with_conversation"
    assert counts(pg) == {"leads": 0, "conversations": 0, "messages": 0, "lead_audit_log": 0}


def test_a_lead_inserted_alone_in_autocommit_fails_too(pg: Conn, user_id: str) -> None:
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="has no conversation"):
        insert_bare_lead(pg, user_id)
    assert counts(pg)["leads"] == 0


def test_a_lead_and_its_conversation_in_one_transaction_commit(pg: Conn, user_id: str) -> None:
    with pg.transaction():
        lead_id = insert_bare_lead(pg, user_id)
        pg.execute(
            "INSERT INTO conversations (organization_id, lead_id, user_id) VALUES (%s, %s, %s)",
            (organization_of(pg, user_id), lead_id, user_id),
        )
    assert counts(pg)["leads"] == 1
    assert counts(pg)["conversations"] == 1


def test_deleting_the_only_conversation_fails_at_commit(pg: Conn, user_id: str, lead: Envelope) -> None:
    pg.execute("BEGIN")
    pg.execute("DELETE FROM conversations WHERE id = %s", (lead["conversation_id"],))
    assert value(pg, "SELECT count(*) FROM conversations") == 0  # deferred to COMMIT
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation) as info:
        pg.execute("COMMIT")
    assert str(info.value).startswith(f"lead {lead['lead_id']} would be left without a conversation")
    assert counts(pg)["conversations"] == 1


def test_moving_the_only_conversation_to_another_lead_fails(pg: Conn, user_id: str, lead: Envelope) -> None:
    other = new_lead(pg, user_id, phone(1))
    pg.execute("UPDATE conversations SET status = 'closed' WHERE id = %s", (lead["conversation_id"],))
    with pytest.raises(
        psycopg.errors.IntegrityConstraintViolation, match="would be left without a conversation"
    ):
        pg.execute(
            "UPDATE conversations SET lead_id = %s WHERE id = %s", (other["lead_id"], lead["conversation_id"])
        )
    assert (
        value(pg, "SELECT lead_id::text FROM conversations WHERE id = %s", lead["conversation_id"])
        == lead["lead_id"]
    )


def test_one_of_two_conversations_may_go_and_a_lead_may_be_deleted_whole(
    pg: Conn, user_id: str, lead: Envelope
) -> None:
    pg.execute("UPDATE conversations SET status = 'closed'")
    call_sql(
        pg,
        "record_whatsapp_message",
        p_user_id=user_id,
        p_wa_message_id="w",
        p_from_phone="15125550100",
        p_body="",
    )
    assert counts(pg)["conversations"] == 2
    pg.execute("DELETE FROM conversations WHERE id = %s", (lead["conversation_id"],))
    assert counts(pg)["conversations"] == 1
    pg.execute("DELETE FROM leads WHERE id = %s", (lead["lead_id"],))  # cascades to conversations, messages
    assert counts(pg)["leads"] == 0
    assert counts(pg)["conversations"] == 0
    assert counts(pg)["messages"] == 0


def test_a_conversation_needs_an_existing_lead(pg: Conn, user_id: str) -> None:
    organization = organization_of(pg, user_id)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute(
            "INSERT INTO conversations (organization_id, lead_id, user_id) VALUES (%s, %s, %s)",
            (organization, "00000000-0000-4000-8000-000000000000", user_id),
        )
    with pytest.raises(psycopg.errors.NotNullViolation):
        pg.execute(
            "INSERT INTO conversations (organization_id, lead_id, user_id) VALUES (%s, NULL, %s)",
            (organization, user_id),
        )


def test_children_are_in_their_parents_organization(
    pg: Conn, user_id: str, other_user_id: str, lead: Envelope
) -> None:
    """Row level security compares organization_id alone: the composite foreign keys keep a
    conversation in its lead's organization and a message in its conversation's."""
    other = organization_of(pg, other_user_id)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute(
            "INSERT INTO conversations (organization_id, lead_id, user_id, status)"
            " VALUES (%s, %s, %s, 'closed')",
            (other, lead["lead_id"], other_user_id),
        )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute(
            "INSERT INTO messages (organization_id, conversation_id, direction, status)"
            " VALUES (%s, %s, 'inbound', 'received')",
            (other, lead["conversation_id"]),
        )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute("UPDATE leads SET organization_id = %s WHERE id = %s", (other, lead["lead_id"]))
    assert counts(pg) == {"leads": 1, "conversations": 1, "messages": 0, "lead_audit_log": 2}


def test_deleting_an_organization_takes_its_leads_and_their_log(
    pg: Conn, user_id: str, other_user_id: str, lead: Envelope
) -> None:
    theirs = new_lead(pg, other_user_id, phone(1))
    call_sql(
        pg,
        "record_whatsapp_message",
        p_user_id=user_id,
        p_wa_message_id="w.1",
        p_from_phone=phone(2),
        p_body="",
    )
    pg.execute("DELETE FROM organizations WHERE id = %s", (organization_of(pg, user_id),))
    assert counts(pg) == {"leads": 1, "conversations": 1, "messages": 0, "lead_audit_log": 2}
    assert value(pg, "SELECT id::text FROM leads") == theirs["lead_id"]
