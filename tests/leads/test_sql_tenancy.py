"""Tenancy of the leads functions (D45-D47), from the inside: an end user (Supabase's
``authenticated`` role with his JWT's claims: sub and organization_id) works in his organization
and only as himself; the members of an organization share its leads; the service (a role holding
leadledger_service) acts in any organization, naming it or the user's one organization. And the
privileges. The attempts on another organization's data are in tests/leads/test_tenancy.py.

End-user calls run in :func:`~tests.leads.conftest.supabase` transactions, which are rolled back:
each test asserts inside them."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.leads.conftest import (
    OVERGRANTED,
    Conn,
    assert_failed,
    call_sql,
    end_user,
    fetch_sql,
    jwt_claims,
    new_lead,
    ok,
    organization_of,
    phone,
    supabase,
    table_state,
    value,
)

NOT_ALLOWED = "Not allowed for this user"


def new_member(conn: Conn, organization_id: str, role: str = "member") -> str:
    """A user who joins an existing organization."""
    email = f"member-{uuid.uuid4().hex[:10]}@example.com"
    return str(
        ok(conn, "create_app_user", p_email=email, p_organization_id=organization_id, p_role=role)["user_id"]
    )


def test_an_end_user_works_in_his_organization(pg: Conn, user_id: str) -> None:
    organization = organization_of(pg, user_id)
    with end_user(pg, user_id):
        created = new_lead(pg, user_id, phone(1))
        assert created["organization_id"] == organization
        imported = ok(
            pg,
            "create_leads_with_conversations",
            p_user_id=user_id,
            p_leads=[{"customer_phone": phone(2), "lead_type": "order"}],
        )
        assert imported["created"] == 1
        # naming his organization is the same as naming none
        listed = fetch_sql(pg, "list_leads", p_user_id=user_id, p_organization_id=organization)
        assert {str(r["lead_id"]) for r in listed} == {created["lead_id"], imported["leads"][0]["lead_id"]}
        detail = ok(pg, "get_lead", p_lead_id=created["lead_id"])  # no p_user_id: the JWT scopes it
        assert detail["lead"]["user_id"] == user_id
        assert detail["lead"]["organization_id"] == organization
        assert ok(pg, "soft_delete_lead", p_lead_id=created["lead_id"])["changed"] is True
        assert ok(pg, "restore_lead", p_lead_id=created["lead_id"], p_user_id=user_id)["changed"] is True
        pg.execute("RESET ROLE")
        assert value(pg, "SELECT count(*) FROM leads WHERE organization_id <> %s", organization) == 0


def test_members_share_their_organizations_leads(pg: Conn, user_id: str) -> None:
    """D45: members read and write their organization's data. One live lead per organization and
    phone: a colleague finds the customer's lead instead of making a second one."""
    organization = organization_of(pg, user_id)
    colleague = new_member(pg, organization)
    mine = new_lead(pg, user_id, phone(1))
    with end_user(pg, colleague):
        assert [str(r["lead_id"]) for r in fetch_sql(pg, "list_leads", p_user_id=colleague)] == [
            mine["lead_id"]
        ]
        assert (
            ok(pg, "get_lead", p_lead_id=mine["lead_id"], p_user_id=colleague)["lead"]["user_id"] == user_id
        )
        again = call_sql(
            pg,
            "create_lead_with_conversation",
            p_user_id=colleague,
            p_customer_phone=phone(1),
            p_customer_name="Same customer",
            p_lead_type="quote",
        )
        assert (again["success"], again["error_code"]) == (False, "23505")
        assert ok(pg, "soft_delete_lead", p_lead_id=mine["lead_id"])["changed"] is True
    # the service records a colleague's reply in the same lead
    sent = ok(
        pg,
        "record_whatsapp_outgoing",
        p_user_id=colleague,
        p_to_phone=phone(1),
        p_body="Hello from a colleague",
        p_wa_message_id="wamid.colleague",
        p_organization_id=organization,
    )
    assert sent["lead_id"] == mine["lead_id"]


CALLS_AS: list[tuple[str, dict[str, Any]]] = [
    (
        "create_lead_with_conversation",
        {"p_customer_phone": phone(60), "p_customer_name": "X", "p_lead_type": "inquiry"},
    ),
    ("create_leads_with_conversations", {"p_leads": [{"customer_phone": phone(61), "lead_type": "inquiry"}]}),
    ("list_leads", {}),
    ("find_lead_by_phone", {"p_phone": phone(60)}),
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
    ("link_whatsapp_number", {"p_phone_number_id": "5550123"}),
]


#: Functions that return rows raise their refusal instead of returning an envelope.
ROW_FUNCTIONS = {"list_leads", "find_lead_by_phone"}


@pytest.mark.parametrize(("function", "params"), CALLS_AS, ids=[c[0] for c in CALLS_AS])
def test_an_end_user_acts_only_as_himself(
    pg: Conn, user_id: str, function: str, params: dict[str, Any]
) -> None:
    """Even a colleague in his own organization may not be named as p_user_id (by a role granted
    every function by mistake, so that the service-only ones are reached too)."""
    organization = organization_of(pg, user_id)
    colleague = new_member(pg, organization)
    with supabase(pg) as roles:
        before = table_state(roles.service())
        roles.act(OVERGRANTED, {"sub": user_id, "role": "authenticated", "organization_id": organization})
        if function in ROW_FUNCTIONS:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=NOT_ALLOWED), pg.transaction():
                fetch_sql(pg, function, p_user_id=colleague, **params)
        else:
            result = call_sql(pg, function, p_user_id=colleague, **params)
            assert (result["success"], result["error_code"], result["error"]) == (False, "42501", NOT_ALLOWED)
        assert table_state(roles.service()) == before


def test_the_service_acts_in_any_organization(pg: Conn, user_id: str, other_user_id: str) -> None:
    theirs = new_lead(pg, other_user_id, phone(1))  # a direct connection: the service, no claims
    organization = organization_of(pg, user_id)
    with jwt_claims(pg, {"sub": "service-account", "role": "service_role"}):  # Supabase's service role
        pg.execute("SELECT set_config('role', 'leadledger_service', true)")
        imported = ok(
            pg,
            "create_leads_with_conversations",
            p_user_id=user_id,
            p_leads=[{"customer_phone": phone(2), "lead_type": "order"}],
            p_organization_id=organization,
        )
        assert ok(pg, "soft_delete_lead", p_lead_id=theirs["lead_id"])["changed"] is True
        assert ok(pg, "restore_lead", p_lead_id=theirs["lead_id"], p_user_id=other_user_id)["changed"] is True
        assert ok(pg, "get_lead", p_lead_id=imported["leads"][0]["lead_id"])["lead"]["user_id"] == user_id
        assert len(fetch_sql(pg, "list_leads", p_user_id=other_user_id)) == 1


def test_the_service_names_the_organization_of_a_user_in_several(pg: Conn, user_id: str) -> None:
    first = organization_of(pg, user_id)
    second = str(ok(pg, "create_organization", p_name="Second", p_owner_user_id=user_id)["organization_id"])
    new_lead(pg, user_id, phone(1), p_organization_id=first)
    new_lead(pg, user_id, phone(1), p_organization_id=second)  # one live lead per organization and phone
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="p_organization_id: is required"):
        fetch_sql(pg, "list_leads", p_user_id=user_id)
    for organization in (first, second):
        [listed] = fetch_sql(pg, "list_leads", p_user_id=user_id, p_organization_id=organization)
        assert (
            value(pg, "SELECT organization_id::text FROM leads WHERE id = %s", listed["lead_id"])
            == organization
        )
    assert_failed(
        pg,
        "create_lead_with_conversation",
        code="22023",
        field="p_organization_id",
        p_user_id=user_id,
        p_customer_phone=phone(2),
        p_customer_name="X",
        p_lead_type="quote",
    )


def test_the_service_may_act_only_as_a_member_of_the_organization(
    pg: Conn, user_id: str, other_user_id: str
) -> None:
    mine = new_lead(pg, user_id, phone(1))
    organization = organization_of(pg, user_id)
    assert_failed(
        pg,
        "create_lead_with_conversation",
        code="23503",
        error="Member not found",
        p_user_id=other_user_id,
        p_customer_phone=phone(2),
        p_customer_name="X",
        p_lead_type="quote",
        p_organization_id=organization,
    )
    # acting as a user: only the leads of his organizations
    for function in ("get_lead", "soft_delete_lead", "restore_lead"):
        assert_failed(
            pg,
            function,
            code="23503",
            error="Lead not found",
            p_lead_id=mine["lead_id"],
            p_user_id=other_user_id,
        )


LEAD_FUNCTIONS = [
    ("create_lead_with_conversation(uuid,text,text,text,text,text,text,uuid)", True),
    ("create_leads_with_conversations(uuid,jsonb,uuid)", True),
    ("soft_delete_lead(uuid,uuid,uuid)", True),
    ("restore_lead(uuid,uuid,uuid)", True),
    ("list_leads(uuid,integer,timestamptz,uuid,text,text,text,uuid)", True),
    ("get_lead(uuid,uuid,uuid)", True),
    ("record_whatsapp_message(uuid,text,text,text,text,text,timestamptz,jsonb,uuid)", False),
    ("record_whatsapp_outgoing(uuid,text,text,text,boolean,text,uuid)", False),
    ("update_whatsapp_message_status(text,text,timestamptz,jsonb,uuid)", False),
    ("link_whatsapp_number(uuid,text,text,text,uuid)", False),
    ("list_whatsapp_numbers(uuid)", False),
    ("whatsapp_number_owner(text,uuid)", False),
    ("find_lead_by_phone(uuid,text,uuid)", False),
]


def test_privileges(pg: Conn) -> None:
    """Only leadledger_service may execute (and Supabase's ``authenticated`` the end-user ones);
    every public function is SECURITY DEFINER with a pinned search_path, and takes
    p_organization_id last, with a default."""
    with supabase(pg):
        for signature, end_user_function in LEAD_FUNCTIONS:
            row = pg.execute(
                "SELECT p.prosecdef, p.proconfig,"
                " has_function_privilege('leadledger_service', p.oid, 'EXECUTE'),"
                " EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0),"
                " has_function_privilege('authenticated', p.oid, 'EXECUTE'),"
                " p.proargnames[p.pronargs], p.pronargdefaults > 0"
                " FROM pg_proc p WHERE p.oid = %s::regprocedure",
                (f"public.{signature}",),
            ).fetchone()
            assert row is not None, signature
            secdef, config, service, public, authenticated, last, defaulted = row
            assert secdef is True, signature
            assert "search_path=pg_catalog, pg_temp" in config, signature
            assert service is True, signature
            assert public is False, signature
            assert authenticated is end_user_function, signature
            assert (last, defaulted) == ("p_organization_id", True), signature
    # the helpers that took "no claims" for the service are gone (org_scope decides, D47)
    for signature in ("lead_jwt_user_id()", "lead_assert_tenant(uuid)", "lead_scope(uuid)"):
        assert value(pg, "SELECT to_regprocedure(%s) IS NULL", f"leadledger.{signature}") is True
