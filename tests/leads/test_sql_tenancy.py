"""Tenancy: called as PostgREST calls with an end user's JWT (a transaction with
request.jwt.claims {"sub": <user>, "role": "authenticated"}), a user acts only for himself;
the service (no claims, or another role) may act for any user. And the privileges."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.leads.conftest import (
    Conn,
    Seed,
    assert_failed,
    call_sql,
    end_user,
    fetch_sql,
    jwt_claims,
    lead_row,
    new_lead,
    ok,
    phone,
    table_state,
    value,
)

NOT_ALLOWED = "Not allowed for this user"


def test_an_end_user_creates_leads_for_himself(pg: Conn, user_id: str) -> None:
    with end_user(pg, user_id):
        created = new_lead(pg, user_id, phone(1))
        imported = ok(
            pg,
            "create_leads_with_conversations",
            p_user_id=user_id,
            p_leads=[{"customer_phone": phone(2), "lead_type": "order"}],
        )
        listed = fetch_sql(pg, "list_leads", p_user_id=user_id)
        detail = ok(pg, "get_lead", p_lead_id=created["lead_id"])  # no p_user_id: the JWT scopes it
    assert imported["created"] == 1
    assert len(listed) == 2
    assert detail["lead"]["user_id"] == user_id


CREATES: list[tuple[str, dict[str, Any]]] = [
    (
        "create_lead_with_conversation",
        {"p_customer_phone": phone(60), "p_customer_name": "X", "p_lead_type": "inquiry"},
    ),
    ("create_leads_with_conversations", {"p_leads": [{"customer_phone": phone(61), "lead_type": "inquiry"}]}),
    ("record_whatsapp_message", {"p_wa_message_id": "wamid.t", "p_from_phone": phone(62), "p_body": "x"}),
    (
        "record_whatsapp_outgoing",
        {
            "p_to_phone": phone(63),
            "p_body": "x",
            "p_wa_message_id": "wamid.o",
            "p_create_lead": True,
            "p_customer_name": "X",
        },
    ),
    ("create_api_key", {"p_key_hash": "ef" * 32}),
    ("link_whatsapp_number", {"p_phone_number_id": "5550123"}),
]


@pytest.mark.parametrize(("function", "params"), CREATES, ids=[c[0] for c in CREATES])
def test_an_end_user_may_not_act_for_another_user(
    shared: Conn, seed: Seed, function: str, params: dict[str, Any]
) -> None:
    with end_user(shared, seed.user_id):
        result = assert_failed(
            shared, function, code="42501", error=NOT_ALLOWED, p_user_id=seed.other_user_id, **params
        )
    assert result["error_detail"] == NOT_ALLOWED


def test_an_end_user_may_not_list_another_users_leads(shared: Conn, seed: Seed) -> None:
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match=NOT_ALLOWED),
        end_user(shared, seed.user_id),
    ):
        fetch_sql(shared, "list_leads", p_user_id=seed.other_user_id)


@pytest.mark.parametrize("function", ["soft_delete_lead", "restore_lead", "get_lead"])
def test_another_users_lead_reads_as_not_found(shared: Conn, seed: Seed, function: str) -> None:
    for lead_id, owner in [(seed.other_lead_id, None), (seed.other_lead_id, seed.user_id)]:
        with end_user(shared, seed.user_id):
            assert_failed(
                shared, function, code="23503", error="Lead not found", p_lead_id=lead_id, p_user_id=owner
            )


@pytest.mark.parametrize("function", ["soft_delete_lead", "restore_lead", "get_lead"])
def test_an_end_user_may_not_scope_a_call_to_another_user(shared: Conn, seed: Seed, function: str) -> None:
    """Passing the other tenant's id as p_user_id must not open the other tenant's leads."""
    for lead_id in (seed.other_lead_id, seed.lead_id):
        with end_user(shared, seed.user_id):
            assert_failed(
                shared,
                function,
                code="42501",
                error=NOT_ALLOWED,
                p_lead_id=lead_id,
                p_user_id=seed.other_user_id,
            )
    assert lead_row(shared, seed.other_lead_id)["deleted_at"] is None


def test_an_end_user_soft_deletes_and_restores_his_own_lead(
    pg: Conn, user_id: str, other_user_id: str
) -> None:
    mine = new_lead(pg, user_id, phone(1))
    theirs = new_lead(pg, other_user_id, phone(1))
    with end_user(pg, user_id):
        assert ok(pg, "soft_delete_lead", p_lead_id=mine["lead_id"])["changed"] is True
    with end_user(pg, user_id):
        assert ok(pg, "restore_lead", p_lead_id=mine["lead_id"], p_user_id=user_id)["changed"] is True
    with end_user(pg, other_user_id):
        before = table_state(pg)
        assert call_sql(pg, "soft_delete_lead", p_lead_id=mine["lead_id"])["error"] == "Lead not found"
        assert table_state(pg) == before
        assert ok(pg, "soft_delete_lead", p_lead_id=theirs["lead_id"])["changed"] is True


def test_the_service_acts_for_any_user(pg: Conn, user_id: str, other_user_id: str) -> None:
    created = new_lead(pg, other_user_id, phone(1))  # a direct connection: no claims
    with jwt_claims(pg, {"sub": "service-account", "role": "service_role"}):  # Supabase's service role
        imported = ok(
            pg,
            "create_leads_with_conversations",
            p_user_id=user_id,
            p_leads=[{"customer_phone": phone(2), "lead_type": "order"}],
        )
        assert ok(pg, "soft_delete_lead", p_lead_id=created["lead_id"])["changed"] is True
        assert (
            ok(pg, "restore_lead", p_lead_id=created["lead_id"], p_user_id=other_user_id)["changed"] is True
        )
        assert ok(pg, "get_lead", p_lead_id=imported["leads"][0]["lead_id"])["lead"]["user_id"] == user_id
        assert len(fetch_sql(pg, "list_leads", p_user_id=other_user_id)) == 1


def test_an_unknown_end_user_cannot_create_anything(shared: Conn, seed: Seed) -> None:
    stranger = "99999999-9999-4999-8999-999999999999"
    with end_user(shared, stranger):
        assert_failed(
            shared,
            "create_lead_with_conversation",
            code="23503",
            error="User not found",
            p_user_id=stranger,
            p_customer_phone=phone(70),
            p_customer_name="X",
            p_lead_type="inquiry",
        )


LEAD_FUNCTIONS = [
    ("create_lead_with_conversation(uuid,text,text,text,text,text,text)", True),
    ("create_leads_with_conversations(uuid,jsonb)", True),
    ("soft_delete_lead(uuid,uuid)", True),
    ("restore_lead(uuid,uuid)", True),
    ("list_leads(uuid,integer,timestamptz,uuid,text,text,text)", True),
    ("get_lead(uuid,uuid)", True),
    ("record_whatsapp_message(uuid,text,text,text,text,text,timestamptz,jsonb)", False),
    ("record_whatsapp_outgoing(uuid,text,text,text,boolean,text)", False),
    ("update_whatsapp_message_status(text,text,timestamptz,jsonb)", False),
    ("create_app_user(text,text,uuid)", False),
    ("create_api_key(uuid,text,text)", False),
    ("authenticate_api_key(text)", False),
    ("link_whatsapp_number(uuid,text,text)", False),
    ("whatsapp_number_owner(text)", False),
    ("find_lead_by_phone(uuid,text)", False),
]


def test_privileges(shared: Conn, seed: Seed) -> None:
    """Only leadledger_service may execute (and `authenticated` the end-user ones, where it exists);
    every public function is SECURITY DEFINER with a pinned search_path."""
    authenticated = (
        shared.execute("SELECT 1 FROM pg_roles WHERE rolname = 'authenticated'").fetchone() is not None
    )
    for signature, end_user_function in LEAD_FUNCTIONS:
        row = shared.execute(
            "SELECT p.prosecdef, p.proconfig,"
            " has_function_privilege('leadledger_service', p.oid, 'EXECUTE'),"
            " EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)"
            " FROM pg_proc p WHERE p.oid = %s::regprocedure",
            (f"public.{signature}",),
        ).fetchone()
        assert row is not None, signature
        secdef, config, service, public = row
        assert secdef is True, signature
        assert "search_path=pg_catalog, pg_temp" in config, signature
        assert service is True, signature
        assert public is False, signature
        if authenticated:
            granted = shared.execute(
                "SELECT has_function_privilege('authenticated', %s::regprocedure, 'EXECUTE')",
                (f"public.{signature}",),
            ).fetchone()
            assert granted is not None
            assert granted[0] is end_user_function, signature


def test_authenticated_token_without_a_user_is_refused(pg: Conn, user_id: str) -> None:
    """A token with role authenticated but no usable sub must not act as the service."""
    for claims in ({"role": "authenticated"}, {"role": "authenticated", "sub": "not-a-uuid"}):
        with jwt_claims(pg, claims):
            result = call_sql(
                pg,
                "create_lead_with_conversation",
                p_user_id=user_id,
                p_customer_phone="+15125550177",
                p_customer_name="X",
                p_lead_type="quote",
            )
        assert result["success"] is False
        assert result["error_code"] == "42501"
    assert value(pg, "SELECT count(*) FROM leads WHERE customer_phone = '+15125550177'") == 0
