"""The audit log: every insert, update and soft delete of a lead or conversation, with the actor
(the JWT subject, else leadledger.actor, else the user the call acts for, else the session user);
nothing for a rolled-back call."""

from __future__ import annotations

from typing import Any

from tests.leads.conftest import (
    Conn,
    Envelope,
    call_sql,
    end_user,
    inbound,
    jwt_claims,
    new_lead,
    ok,
    organization_of,
    phone,
    rows,
    value,
)


def audit(conn: Conn, since: int = 0) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT id, organization_id::text AS organization_id, table_name, record_id::text AS record_id,"
        " action, actor, old_values, new_values"
        " FROM lead_audit_log WHERE id > %s ORDER BY id",
        since,
    )


def last_id(conn: Conn) -> int:
    return int(value(conn, "SELECT coalesce(max(id), 0) FROM lead_audit_log"))


def test_creating_a_lead_logs_both_inserts_with_the_new_rows(pg: Conn, user_id: str) -> None:
    created = new_lead(pg, user_id, "+15125550100", "Ana", "quote")
    lead_log, conversation_log = audit(pg)
    assert (lead_log["table_name"], lead_log["record_id"], lead_log["action"]) == (
        "leads",
        created["lead_id"],
        "INSERT",
    )
    assert (conversation_log["table_name"], conversation_log["record_id"], conversation_log["action"]) == (
        "conversations",
        created["conversation_id"],
        "INSERT",
    )
    organization = organization_of(pg, user_id)
    for entry in (lead_log, conversation_log):
        assert entry["actor"] == user_id  # the user the service acted for (the HTTP API's caller)
        assert entry["old_values"] is None
        assert entry["organization_id"] == organization  # the lead's: row level security shows it there
    stored = value(pg, "SELECT to_jsonb(l) FROM leads l WHERE id = %s", created["lead_id"])
    assert lead_log["new_values"] == stored
    assert lead_log["new_values"]["customer_phone"] == "+15125550100"
    assert lead_log["new_values"]["lead_type"] == "quote"
    assert conversation_log["new_values"]["lead_id"] == created["lead_id"]
    assert conversation_log["new_values"]["status"] == "active"


def test_updates_and_soft_delete_and_restore_are_logged_with_old_and_new_values(
    pg: Conn, user_id: str, lead: Envelope
) -> None:
    mark = last_id(pg)
    inbound(pg, user_id, "wamid.1", "15125550100")  # touches the conversation's last_message_at
    [touched] = audit(pg, mark)
    assert (touched["table_name"], touched["action"], touched["record_id"]) == (
        "conversations",
        "UPDATE",
        lead["conversation_id"],
    )
    assert touched["old_values"]["last_message_at"] is None
    assert touched["new_values"]["last_message_at"] is not None

    mark = last_id(pg)
    deleted = ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
    lead_log, conversation_log = audit(pg, mark)
    assert [(e["table_name"], e["action"]) for e in (lead_log, conversation_log)] == [
        ("leads", "UPDATE"),
        ("conversations", "UPDATE"),
    ]
    for entry in (lead_log, conversation_log):
        assert entry["old_values"]["deleted_at"] is None
        assert entry["new_values"]["deleted_at"] is not None
    assert lead_log["new_values"]["deleted_at"] == deleted["deleted_at"]
    assert conversation_log["new_values"]["deleted_at"] == deleted["deleted_at"]

    mark = last_id(pg)
    ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])  # a no-op writes no audit row
    assert audit(pg, mark) == []

    ok(pg, "restore_lead", p_lead_id=lead["lead_id"])
    restored = audit(pg, mark)
    assert [(e["table_name"], e["action"]) for e in restored] == [
        ("leads", "UPDATE"),
        ("conversations", "UPDATE"),
    ]
    for entry in restored:
        assert entry["old_values"]["deleted_at"] is not None
        assert entry["new_values"]["deleted_at"] is None


def test_a_hard_delete_is_logged_with_the_old_rows(pg: Conn, lead: Envelope) -> None:
    mark = last_id(pg)
    pg.execute("DELETE FROM leads WHERE id = %s", (lead["lead_id"],))
    entries = audit(pg, mark)
    assert sorted((e["table_name"], e["action"], e["record_id"]) for e in entries) == [
        ("conversations", "DELETE", lead["conversation_id"]),
        ("leads", "DELETE", lead["lead_id"]),
    ]
    for entry in entries:
        assert entry["new_values"] is None
        assert entry["old_values"]["id"] == entry["record_id"]


def test_bulk_import_logs_every_row(pg: Conn, user_id: str) -> None:
    result = ok(
        pg,
        "create_leads_with_conversations",
        p_user_id=user_id,
        p_leads=[{"customer_phone": phone(n), "lead_type": "other"} for n in range(3)],
    )
    logged = {(e["table_name"], e["record_id"]) for e in audit(pg) if e["action"] == "INSERT"}
    expected = {("leads", r["lead_id"]) for r in result["leads"]} | {
        ("conversations", r["conversation_id"]) for r in result["leads"]
    }
    assert logged == expected


def test_the_actor_is_the_jwt_subject_else_the_setting_else_the_acting_user_else_the_session_user(
    pg: Conn, user_id: str, lead: Envelope
) -> None:
    session_user = value(pg, "SELECT session_user::text")

    # 1. PostgREST with an end user's JWT: the subject, even when leadledger.actor is set too
    #    (in a rolled-back transaction: Supabase's roles are simulated in it).
    pg.execute("SET leadledger.actor = 'etl-worker'")
    mark = last_id(pg)
    with end_user(pg, user_id):
        ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
        pg.execute("RESET ROLE")
        assert {e["actor"] for e in audit(pg, mark)} == {user_id}

    # 2. The service role's JWT has a subject too.
    mark = last_id(pg)
    with jwt_claims(pg, {"sub": "service-account-7", "role": "service_role"}):
        ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
    assert {e["actor"] for e in audit(pg, mark)} == {"service-account-7"}

    # 3. No JWT (the claims were local to that transaction): the leadledger.actor setting.
    mark = last_id(pg)
    ok(pg, "restore_lead", p_lead_id=lead["lead_id"])
    assert {e["actor"] for e in audit(pg, mark)} == {"etl-worker"}

    # 4. Claims without a subject fall through to the setting as well.
    mark = last_id(pg)
    with jwt_claims(pg, {"role": "anon"}):
        ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
    assert {e["actor"] for e in audit(pg, mark)} == {"etl-worker"}

    # 5. Neither: the user the call acts for (p_user_id, as the HTTP API passes its caller) ...
    pg.execute("RESET leadledger.actor")
    mark = last_id(pg)
    new_lead(pg, user_id, phone(1))
    assert {e["actor"] for e in audit(pg, mark)} == {user_id}
    mark = last_id(pg)
    ok(pg, "restore_lead", p_lead_id=lead["lead_id"], p_user_id=user_id)
    assert {e["actor"] for e in audit(pg, mark)} == {user_id}

    # 6. ... and when the service acts for no one in particular, the session user.
    mark = last_id(pg)
    ok(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
    assert {e["actor"] for e in audit(pg, mark)} == {session_user}

    # A setting local to one transaction works the same way.
    mark = last_id(pg)
    with pg.transaction():
        pg.execute("SELECT set_config('leadledger.actor', 'cli:import', true)")
        new_lead(pg, user_id, phone(2))
    assert {e["actor"] for e in audit(pg, mark)} == {"cli:import"}


FAIL_ON = """
CREATE FUNCTION public.inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'injected failure';
END
$$;
CREATE TRIGGER inject_failure BEFORE {event} ON public.conversations
    FOR EACH ROW EXECUTE FUNCTION public.inject_failure();
"""


def test_a_failed_call_leaves_no_audit_row(pg: Conn, user_id: str, lead: Envelope) -> None:
    mark = last_id(pg)
    duplicate = call_sql(
        pg,
        "create_lead_with_conversation",
        p_user_id=user_id,
        p_customer_phone="+15125550100",
        p_customer_name="Ana",
        p_lead_type="inquiry",
    )
    assert duplicate["error_code"] == "23505"
    assert audit(pg, mark) == []

    # Failures after the lead's own write (and its audit row) was made: both are rolled back.
    pg.execute(FAIL_ON.format(event="UPDATE"))
    refused = call_sql(pg, "soft_delete_lead", p_lead_id=lead["lead_id"])
    assert refused["error"] == "injected failure"
    assert audit(pg, mark) == []
    assert value(pg, "SELECT deleted_at FROM leads WHERE id = %s", lead["lead_id"]) is None

    pg.execute("DROP TRIGGER inject_failure ON public.conversations")
    pg.execute(
        "CREATE TRIGGER inject_failure BEFORE INSERT ON public.conversations"
        " FOR EACH ROW EXECUTE FUNCTION public.inject_failure()"
    )
    refused = call_sql(
        pg,
        "record_whatsapp_message",
        p_user_id=user_id,
        p_wa_message_id="w",
        p_from_phone=phone(5),
        p_body="hi",
    )
    assert refused["error"] == "injected failure"
    assert audit(pg, mark) == []
