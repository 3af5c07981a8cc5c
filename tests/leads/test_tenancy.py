"""Cross-tenant attempts on the leads domain (issue 10): organization B, and callers who belong to
no organization, on organization A's leads, conversations, messages and WhatsApp numbers.

(a) SQL as Supabase calls it: PostgREST's role (``authenticated``, a custom role IN ROLE
    authenticated, a role granted every function by mistake) with request.jwt.claims, inside
    rolled-back transactions (tests/leads/conftest.py: supabase). Every end-user and service-only
    function, by id, by listing, by search and by cursor: refused, not found or empty, and the
    digest of every table unchanged.
(b) HTTP: two members in two organizations, every /api/leads and /api/whatsapp route and the
    webhook; revoked keys, expired and foreign JWTs.
(c) Row level security: a PostgREST read of the tables returns only the caller's organization's
    rows.
(d) The migration: a database at the version before 20261202040200 with leads in it upgrades
    into organizations.

Every attempt is counted in tests.tenants.LEDGER (printed at the end of the run); each test also
asserts on each attempt.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from leadledger.api import create_app
from leadledger.api.auth import hash_api_key
from leadledger.db import Database
from leadledger.db.migrations import MigrationRunner, discover
from leadledger.leads.client import LeadsClient
from leadledger.leads.fake_whatsapp import FakeWhatsAppServer, message_payload, status_payload
from leadledger.leads.whatsapp import sign
from leadledger.orgs.client import OrgsClient
from tests.conftest import make_settings
from tests.helpers import rows, scalar
from tests.leads.conftest import (
    CUSTOM_AUTHENTICATED,
    OVERGRANTED,
    READABLE_TABLES,
    SEED_OUT_WA_ID,
    SEED_PHONE,
    SEED_WA_ID,
    Conn,
    Seed,
    Supabase,
    call_sql,
    fetch_sql,
    supabase,
    table_state,
    value,
)
from tests.tenants import LEDGER, Member, new_member

# =============================================================================================
# (a) SQL, as Supabase calls it
# =============================================================================================


@dataclass(frozen=True)
class Identity:
    """Who calls: PostgREST's role, the JWT claims (None: none), and the p_user_id it passes."""

    name: str
    role: str
    claims: dict[str, Any] | None
    user: str  # "b" (the member of B), "a" (A's user: acting as the victim) or a stranger's id


def identities(seed: Seed) -> list[Identity]:
    b_claims = {
        "sub": seed.other_user_id,
        "role": "authenticated",
        "organization_id": seed.other_organization_id,
    }
    stranger = str(uuid.uuid4())
    return [
        Identity("member of B", "authenticated", b_claims, "b"),
        Identity("member of B, every function granted", OVERGRANTED, b_claims, "b"),
        Identity("member of B naming A's user", OVERGRANTED, b_claims, "a"),
        Identity("no claims", "authenticated", None, "a"),
        Identity("authenticated without a sub", "authenticated", {"role": "authenticated"}, "a"),
        Identity(
            "authenticated without a sub, naming A",
            OVERGRANTED,
            {"role": "authenticated", "organization_id": seed.organization_id},
            "a",
        ),
        Identity("custom role IN ROLE authenticated, no claims", CUSTOM_AUTHENTICATED, None, "a"),
        Identity(
            "custom role IN ROLE authenticated, claiming service_role",
            CUSTOM_AUTHENTICATED,
            {"role": "service_role"},
            "a",
        ),
        Identity("every function granted, no claims", OVERGRANTED, None, "a"),
        Identity(
            "member of B claiming A (not a member)",
            OVERGRANTED,
            {"sub": seed.other_user_id, "role": "authenticated", "organization_id": seed.organization_id},
            "b",
        ),
        Identity(
            "unknown user claiming A",
            OVERGRANTED,
            {"sub": stranger, "role": "authenticated", "organization_id": seed.organization_id},
            stranger,
        ),
        Identity(
            "member of B, organization in app_metadata",
            OVERGRANTED,
            {"sub": seed.other_user_id, "app_metadata": {"organization_id": seed.other_organization_id}},
            "b",
        ),
    ]


#: (function, returns rows, parameters given the seed and the p_user_id the identity passes)
Op = tuple[str, bool, Callable[[Seed, str], dict[str, Any]]]

FAR_FUTURE = "2999-01-01T00:00:00+00:00"

OPS: list[Op] = [
    ("get_lead", False, lambda s, u: {"p_lead_id": s.lead_id, "p_user_id": u}),
    ("get_lead", False, lambda s, u: {"p_lead_id": s.lead_id, "p_organization_id": s.organization_id}),
    ("soft_delete_lead", False, lambda s, u: {"p_lead_id": s.lead_id, "p_user_id": u}),
    (
        "soft_delete_lead",
        False,
        lambda s, u: {"p_lead_id": s.lead_id, "p_organization_id": s.organization_id},
    ),
    ("restore_lead", False, lambda s, u: {"p_lead_id": s.deleted_lead_id}),
    (
        "restore_lead",
        False,
        lambda s, u: {"p_lead_id": s.deleted_lead_id, "p_organization_id": s.organization_id},
    ),
    ("list_leads", True, lambda s, u: {"p_user_id": u}),
    ("list_leads", True, lambda s, u: {"p_user_id": u, "p_organization_id": s.organization_id}),
    ("list_leads", True, lambda s, u: {"p_user_id": u, "p_search": "Seed"}),
    ("list_leads", True, lambda s, u: {"p_user_id": u, "p_search": SEED_PHONE}),
    (
        "list_leads",
        True,
        lambda s, u: {"p_user_id": u, "p_before_created_at": FAR_FUTURE, "p_before_id": s.lead_id},
    ),
    (
        "create_lead_with_conversation",
        False,
        lambda s, u: {
            "p_user_id": u,
            "p_customer_phone": "+15125550177",
            "p_customer_name": "Intruder",
            "p_lead_type": "quote",
            "p_organization_id": s.organization_id,
        },
    ),
    (
        "create_leads_with_conversations",
        False,
        lambda s, u: {
            "p_user_id": u,
            "p_leads": [{"customer_phone": "+15125550178", "lead_type": "quote"}],
            "p_organization_id": s.organization_id,
        },
    ),
    (
        "record_whatsapp_message",
        False,
        lambda s, u: {
            "p_user_id": u,
            "p_wa_message_id": "wamid.intruder",
            "p_from_phone": SEED_PHONE,
            "p_body": "x",
            "p_organization_id": s.organization_id,
        },
    ),
    (
        "record_whatsapp_message",  # A's message id: a duplicate that must name nothing of A's
        False,
        lambda s, u: {
            "p_user_id": u,
            "p_wa_message_id": SEED_WA_ID,
            "p_from_phone": SEED_PHONE,
            "p_body": "x",
        },
    ),
    (
        "record_whatsapp_outgoing",
        False,
        lambda s, u: {
            "p_user_id": u,
            "p_to_phone": SEED_PHONE,
            "p_body": "x",
            "p_wa_message_id": "wamid.intruder-out",
            "p_organization_id": s.organization_id,
        },
    ),
    (
        "record_whatsapp_outgoing",  # A's sent message id, recorded again
        False,
        lambda s, u: {
            "p_user_id": u,
            "p_to_phone": SEED_PHONE,
            "p_body": "x",
            "p_wa_message_id": SEED_OUT_WA_ID,
        },
    ),
    (
        "update_whatsapp_message_status",
        False,
        lambda s, u: {"p_wa_message_id": SEED_OUT_WA_ID, "p_status": "read"},
    ),
    (
        "update_whatsapp_message_status",
        False,
        lambda s, u: {
            "p_wa_message_id": SEED_OUT_WA_ID,
            "p_status": "read",
            "p_organization_id": s.organization_id,
        },
    ),
    ("link_whatsapp_number", False, lambda s, u: {"p_user_id": u, "p_phone_number_id": s.phone_number_id}),
    (
        "link_whatsapp_number",
        False,
        lambda s, u: {"p_user_id": u, "p_phone_number_id": "5550199", "p_organization_id": s.organization_id},
    ),
    ("whatsapp_number_owner", True, lambda s, u: {"p_phone_number_id": s.phone_number_id}),
    ("list_whatsapp_numbers", True, lambda s, u: {"p_organization_id": s.organization_id}),
    ("list_whatsapp_numbers", True, lambda s, u: {}),
    ("find_lead_by_phone", True, lambda s, u: {"p_user_id": u, "p_phone": SEED_PHONE}),
    (
        "find_lead_by_phone",
        True,
        lambda s, u: {"p_user_id": u, "p_phone": SEED_PHONE, "p_organization_id": s.organization_id},
    ),
]


def markers(conn: Conn, seed: Seed) -> set[str]:
    """What only A's data contains: ids of A's leads, conversations and messages, and A's lead
    names (not what a caller passes in, which an error may echo)."""
    found = {
        str(r[0])
        for r in conn.execute("SELECT id FROM leads WHERE organization_id = %s", [seed.organization_id])
    }
    for table in ("conversations", "messages"):
        query = f"SELECT id FROM {table} WHERE organization_id = %s"
        found |= {str(r[0]) for r in conn.execute(query, [seed.organization_id])}
    return found | {"Seed lead", "Deleted lead"}


def attempt(
    conn: Conn, roles: Supabase, identity: Identity, function: str, returns_rows: bool, params: Any
) -> Any:
    """One call as ``identity``: its envelope or rows, or the error it raised (in a savepoint)."""
    roles.act(identity.role, identity.claims)
    try:
        with conn.transaction():
            if returns_rows:
                return fetch_sql(conn, function, **params)
            return call_sql(conn, function, **params)
    except psycopg.Error as exc:
        return exc
    finally:
        roles.service()


def shown(result: Any, params: dict[str, Any]) -> str:
    """What a call answered, as text, without what the caller passed in (an error may echo it:
    a lead id the caller named is no leak)."""
    text = str(result) if isinstance(result, psycopg.Error) else json.dumps(result, default=str)
    for given in params.values():
        if isinstance(given, str) and len(given) > 8:
            text = text.replace(given, "<given>")
    return text


def refused_or_empty(result: Any, seed: Seed) -> bool:
    """An error, a failure envelope, no rows, or rows of B's own (its lead for the same phone)."""
    if isinstance(result, psycopg.Error):
        return True
    if isinstance(result, list):
        return all(str(r.get("lead_id")) == seed.other_lead_id for r in result)
    return isinstance(result, dict) and result.get("success") is False


@pytest.mark.parametrize("index", range(12), ids=lambda i: f"identity{i}")
def test_sql_callers_outside_organization_a_get_nothing_of_it(shared: Conn, seed: Seed, index: int) -> None:
    identity = identities(seed)[index]
    user = {"a": seed.user_id, "b": seed.other_user_id}.get(identity.user, identity.user)
    secret = markers(shared, seed)
    with supabase(shared) as roles:
        before = table_state(shared)
        for function, returns_rows, build in OPS:
            params = build(seed, user)
            result = attempt(shared, roles, identity, function, returns_rows, params)
            text = shown(result, params)
            leaked = any(m in text for m in secret) or table_state(shared) != before
            LEDGER.record("sql", f"{function} as {identity.name}", leaked)
            assert not leaked, (identity.name, function, text)
            assert refused_or_empty(result, seed), (identity.name, function, text)
            if identity.claims is None or "sub" not in identity.claims:
                # no user in the claims: refused outright, by the grants or by org_scope
                assert isinstance(result, psycopg.Error) or result.get("error_code") == "42501", (
                    identity.name,
                    function,
                    text,
                )


def test_sql_the_refusals_read_like_missing_rows(shared: Conn, seed: Seed) -> None:
    """The answers B gets: another organization's lead is 'Lead not found', its organization
    'Organization not found', its message 'Message not found', its message id a duplicate that
    names nothing: exactly what an id that does not exist gets."""
    b_claims = {
        "sub": seed.other_user_id,
        "role": "authenticated",
        "organization_id": seed.other_organization_id,
    }
    b = Identity("member of B, every function granted", OVERGRANTED, b_claims, "b")
    unknown = str(uuid.uuid4())
    with supabase(shared) as roles:
        for lead_id in (seed.lead_id, unknown):
            for function in ("get_lead", "soft_delete_lead", "restore_lead"):
                result = attempt(shared, roles, b, function, False, {"p_lead_id": lead_id})
                assert (result["error_code"], result["error"]) == ("23503", "Lead not found"), result
        named = attempt(
            shared,
            roles,
            b,
            "get_lead",
            False,
            {"p_lead_id": seed.lead_id, "p_organization_id": seed.organization_id},
        )
        assert (named["error_code"], named["error"]) == ("23503", "Organization not found")
        status = attempt(
            shared,
            roles,
            b,
            "update_whatsapp_message_status",
            False,
            {"p_wa_message_id": SEED_OUT_WA_ID, "p_status": "read"},
        )
        assert status["error"] == "Message not found"
        replay = attempt(
            shared,
            roles,
            b,
            "record_whatsapp_message",
            False,
            {
                "p_user_id": seed.other_user_id,
                "p_wa_message_id": SEED_WA_ID,
                "p_from_phone": SEED_PHONE,
                "p_body": "x",
            },
        )
        assert (replay["error_code"], replay["error"]) == ("23505", "Duplicate record detected")
        listed = attempt(shared, roles, b, "list_leads", True, {"p_user_id": seed.other_user_id})
        assert [str(r["lead_id"]) for r in listed] == [seed.other_lead_id]
        nobody = Identity("no claims", "authenticated", None, "a")
        refused = attempt(shared, roles, nobody, "get_lead", False, {"p_lead_id": seed.lead_id})
        assert (refused["error_code"], refused["error"]) == (
            "42501",
            "Not allowed: sign in as a member of an organization",
        )


def test_sql_the_service_confined_to_b_gets_nothing_of_a(shared: Conn, seed: Seed) -> None:
    """The HTTP API passes its caller's organization: even as the service, a call confined to B
    reads and writes nothing of A's."""
    before = table_state(shared)
    secret = markers(shared, seed)
    b = seed.other_organization_id
    calls: list[tuple[str, bool, dict[str, Any]]] = [
        ("get_lead", False, {"p_lead_id": seed.lead_id, "p_organization_id": b}),
        ("soft_delete_lead", False, {"p_lead_id": seed.lead_id, "p_organization_id": b}),
        ("restore_lead", False, {"p_lead_id": seed.deleted_lead_id, "p_organization_id": b}),
        ("get_lead", False, {"p_lead_id": seed.lead_id, "p_user_id": seed.other_user_id}),
        ("update_whatsapp_message_status", False,
         {"p_wa_message_id": SEED_OUT_WA_ID, "p_status": "read", "p_organization_id": b}),
        ("whatsapp_number_owner", True, {"p_phone_number_id": seed.phone_number_id, "p_organization_id": b}),
        ("list_whatsapp_numbers", True, {"p_organization_id": b}),
        ("list_leads", True, {"p_user_id": seed.other_user_id, "p_organization_id": b, "p_search": "Seed"}),
        ("link_whatsapp_number", False,
         {"p_user_id": seed.other_user_id, "p_phone_number_id": seed.phone_number_id}),
        (
            "create_lead_with_conversation",
            False,
            {"p_user_id": seed.user_id, "p_customer_phone": "+15125550177", "p_customer_name": "X",
             "p_lead_type": "quote", "p_organization_id": b},
        ),
    ]  # fmt: skip
    for function, returns_rows, params in calls:
        try:
            with shared.transaction():
                result: Any = (fetch_sql if returns_rows else call_sql)(shared, function, **params)
        except psycopg.Error as exc:
            result = exc
        text = shown(result, params)
        leaked = any(m in text for m in secret) or table_state(shared) != before
        LEDGER.record("sql", f"{function} as the service confined to B", leaked)
        assert not leaked, (function, text)
        assert refused_or_empty(result, seed), (function, text)


# =============================================================================================
# (b) HTTP
# =============================================================================================

JWT_SECRET = "tenancy-jwt-secret-of-at-least-32-bytes"
APP_SECRET = "tenancy-app-secret"
A_NUMBER = "100200300400"
B_NUMBER = "100200300500"


@dataclass
class Two:
    api: TestClient
    a: Member
    b: Member
    fake: FakeWhatsAppServer
    conn: Conn

    def webhook(self, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        return self.api.post(
            "/api/webhooks/whatsapp",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, body)},
        )

    def state_of(self, organization: UUID) -> dict[str, str]:
        """A digest of every row of one organization in each table of the domain."""
        return {
            table: str(
                scalar(
                    self.conn,
                    "SELECT coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '')"
                    f" FROM public.{table} x WHERE organization_id = %s",
                    organization,
                )
            )
            for table in READABLE_TABLES
        }


def token(user: UUID, organization: UUID, secret: str = JWT_SECRET, **claims: Any) -> str:
    payload = {
        "sub": str(user),
        "organization_id": str(organization),
        "aud": "authenticated",
        "role": "authenticated",
        "exp": int(time.time()) + 600,
    }
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(jwt_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt_token}"}


@pytest.fixture
def two(db_url: str, database: Database, conn: Conn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Two]:
    a = new_member(database, f"a-{uuid.uuid4().hex[:6]}@example.com", "A")
    b = new_member(database, f"b-{uuid.uuid4().hex[:6]}@example.com", "B")
    leads = LeadsClient(database)
    # A's number has its own token (an environment variable); B's sends with the deployment's.
    monkeypatch.setenv("LLTEST_A_WHATSAPP_TOKEN", "a-token")
    leads.link_whatsapp_number(a.user_id, A_NUMBER, None, "env:LLTEST_A_WHATSAPP_TOKEN", a.organization_id)
    leads.link_whatsapp_number(b.user_id, B_NUMBER, organization_id=b.organization_id)
    with FakeWhatsAppServer(token="wa-token", tokens={A_NUMBER: "a-token"}) as fake:
        settings = make_settings(
            db_url,
            jwt_secret=SecretStr(JWT_SECRET),
            whatsapp_app_secret=SecretStr(APP_SECRET),
            whatsapp_verify_token=SecretStr("verify-me"),
            whatsapp_api_base_url=fake.base_url,
            whatsapp_access_token=SecretStr("wa-token"),
        )
        with TestClient(create_app(settings, database_url=db_url)) as api:
            yield Two(api, a, b, fake, conn)


def _a_has_data(two: Two) -> dict[str, str]:
    """A's leads (one live with messages, one soft-deleted) through the API and the webhook."""
    api, a = two.api, two.a
    live = api.post(
        "/api/leads",
        headers=a.auth,
        json={"customer_phone": "+15125550100", "customer_name": "Ana Alpha", "type": "quote"},
    ).json()
    second = api.post(
        "/api/leads",
        headers=a.auth,
        json={"customer_phone": "+15125550102", "customer_name": "Bea Beta", "type": "booking"},
    ).json()
    gone = api.post(
        "/api/leads",
        headers=a.auth,
        json={"customer_phone": "+15125550101", "customer_name": "Gil Gone", "type": "order"},
    ).json()
    assert api.delete(f"/api/leads/{gone['lead_id']}", headers=a.auth).status_code == 200
    inbound = two.webhook(message_payload(A_NUMBER, "15125550100", "Hello A", message_id="wamid.a-in"))
    assert inbound.json()["messages"] == 1
    sent = api.post("/api/whatsapp", headers=a.auth, json={"to": "+15125550100", "message": "Reply from A"})
    assert sent.status_code == 201, sent.text
    return {
        "live": live["lead_id"],
        "second": second["lead_id"],
        "gone": gone["lead_id"],
        "sent": sent.json()["wa_message_id"],
    }


def test_http_inbound_messages_land_in_the_numbers_organization(two: Two) -> None:
    to_a = two.webhook(message_payload(A_NUMBER, "15125550142", "to A", name="Maria"))
    to_b = two.webhook(message_payload(B_NUMBER, "15125550142", "to B", name="Maria"))
    assert (to_a.json()["leads_created"], to_b.json()["leads_created"]) == (1, 1)
    landed = rows(
        two.conn,
        "SELECT l.organization_id, l.user_id, m.body, m.organization_id AS message_organization"
        " FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN leads l ON l.id = c.lead_id"
        " ORDER BY m.body",
    )
    assert [(r["body"], r["organization_id"], r["message_organization"], r["user_id"]) for r in landed] == [
        ("to A", two.a.organization_id, two.a.organization_id, two.a.user_id),
        ("to B", two.b.organization_id, two.b.organization_id, two.b.user_id),
    ]
    a_list = two.api.get("/api/leads", headers=two.a.auth).json()["items"]
    b_list = two.api.get("/api/leads", headers=two.b.auth).json()["items"]
    assert len(a_list) == len(b_list) == 1
    assert a_list[0]["lead_id"] != b_list[0]["lead_id"]


def test_http_sending_uses_the_callers_organizations_number_and_its_token(two: Two) -> None:
    for member, number in ((two.a, A_NUMBER), (two.b, B_NUMBER)):
        sent = two.api.post(
            "/api/whatsapp",
            headers=member.auth,
            json={"to": "+15125550199", "message": "hi", "createLead": True, "customerName": "Sam"},
        )
        assert sent.status_code == 201, sent.text
        assert two.fake.sent[-1]["path"].endswith(f"/{number}/messages")
        organization = scalar(
            two.conn, "SELECT organization_id FROM leads WHERE id = %s", sent.json()["lead_id"]
        )
        assert organization == member.organization_id
    # naming one's own number is fine
    named = two.api.post(
        "/api/whatsapp",
        headers=two.a.auth,
        json={"to": "+15125550199", "message": "again", "phoneNumberId": A_NUMBER},
    )
    assert named.status_code == 201, named.text
    assert two.fake.sent[-1]["path"].endswith(f"/{A_NUMBER}/messages")


def test_http_a_second_number_must_be_named(two: Two, database: Database) -> None:
    LeadsClient(database).link_whatsapp_number(
        two.a.user_id, "100200300401", organization_id=two.a.organization_id
    )
    body = {"to": "+15125550199", "message": "hi"}
    unnamed = two.api.post("/api/whatsapp", headers=two.a.auth, json=body)
    assert unnamed.status_code == 422, unnamed.text
    assert [e["field"] for e in unnamed.json()["errors"]] == ["body.phoneNumberId"]
    named = two.api.post("/api/whatsapp", headers=two.a.auth, json={**body, "phoneNumberId": "100200300401"})
    assert named.status_code == 201, named.text
    assert two.fake.sent[-1]["path"].endswith("/100200300401/messages")


def test_http_b_gets_nothing_of_a(two: Two) -> None:
    a_ids = _a_has_data(two)
    a_cursor = two.api.get("/api/leads", headers=two.a.auth, params={"limit": 1}).json()["next_cursor"]
    assert a_cursor
    a_secrets = {
        a_ids["live"],
        a_ids["second"],
        a_ids["gone"],
        "Ana Alpha",
        "Bea Beta",
        "Gil Gone",
        "Hello A",
    }
    a_secrets.add("Reply from A")
    a_before = two.state_of(two.a.organization_id)
    sent_before = len(two.fake.sent)
    b = two.b.auth
    live, gone = a_ids["live"], a_ids["gone"]
    attempts: list[tuple[str, str, dict[str, Any], set[int]]] = [
        ("GET", f"/api/leads/{live}", {}, {404}),
        ("DELETE", f"/api/leads/{live}", {}, {404}),
        ("POST", f"/api/leads/{gone}/restore", {}, {404}),
        ("GET", f"/api/leads/{gone}", {}, {404}),
        ("GET", "/api/leads", {}, {200}),
        ("GET", "/api/leads", {"params": {"q": "Ana"}}, {200}),
        ("GET", "/api/leads", {"params": {"q": "512 555 0100"}}, {200}),
        ("GET", "/api/leads", {"params": {"cursor": a_cursor}}, {200}),
        ("GET", "/api/leads", {"params": {"cursor": a_cursor, "limit": 1, "status": "new"}}, {200}),
        (
            "POST",
            "/api/leads",
            {"json": {"customer_phone": "+15125550100", "customer_name": "X", "type": "quote",
                      "organization_id": str(two.a.organization_id)}},
            {422},
        ),
        (
            "POST",
            "/api/whatsapp",
            {"json": {"to": "+15125550100", "message": "from A's number", "phoneNumberId": A_NUMBER}},
            {404},
        ),
        # from B's own number: B has no lead for A's customer, so nothing is recorded (or B's own lead)
        ("POST", "/api/whatsapp", {"json": {"to": "+15125550100", "message": "hello from B"}}, {201}),
        (
            "POST",
            "/api/whatsapp",
            {"json": {"to": "+15125550100", "message": "B's lead", "createLead": True,
                      "customerName": "Ana"}},
            {201},
        ),
    ]  # fmt: skip
    for method, path, kwargs, expected in attempts:
        response = two.api.request(method, path, headers=b, **kwargs)
        leaked = any(s in response.text for s in a_secrets) or two.state_of(two.a.organization_id) != a_before
        LEDGER.record("http", f"{method} {path} as a member of B", leaked)
        assert not leaked, (method, path, response.text)
        assert response.status_code in expected, (method, path, response.status_code, response.text)
        if method == "GET" and path == "/api/leads":
            assert all(item["lead_id"] not in (live, gone) for item in response.json()["items"])
    # B's sends went out from B's number only, and none landed in A's conversation
    assert all(s["path"].endswith(f"/{B_NUMBER}/messages") for s in two.fake.sent[sent_before:])
    assert len(two.fake.sent) == sent_before + 2
    # webhooks through B's number naming A's messages: ignored, A unchanged
    for payload in (
        status_payload(B_NUMBER, a_ids["sent"], "read", "15125550100"),
        message_payload(B_NUMBER, "15125550100", "replayed", message_id="wamid.a-in"),
    ):
        response = two.webhook(payload)
        leaked = any(s in response.text for s in a_secrets) or two.state_of(two.a.organization_id) != a_before
        LEDGER.record("http", "webhook through B's number on A's message", leaked)
        assert not leaked, response.text
        assert response.status_code == 200, response.text
        assert response.json()["ignored"], response.text
    assert scalar(two.conn, "SELECT status FROM messages WHERE wa_message_id = %s", a_ids["sent"]) == "sent"


def test_http_credentials_that_are_not_a_member_of_a_get_nothing(two: Two, database: Database) -> None:
    a_ids = _a_has_data(two)
    a_before = two.state_of(two.a.organization_id)
    orgs = OrgsClient(database)
    # a revoked key of A's
    revoked = new_member(database, organization_id=two.a.organization_id)
    found = orgs.authenticate_api_key(hash_api_key(revoked.key))
    assert found is not None
    orgs.revoke_api_key(found.api_key_id, two.a.organization_id)
    a, b = two.a, two.b
    a_org, b_org = a.organization_id, b.organization_id
    credentials: list[tuple[str, dict[str, str], int]] = [
        ("nothing", {}, 401),
        ("a revoked key of A", revoked.auth, 401),
        ("an unknown key", {"X-API-Key": "llk_" + "x" * 43}, 401),
        ("an expired JWT of A", bearer(token(a.user_id, a_org, exp=1)), 401),
        ("a JWT of B naming A", bearer(token(b.user_id, a_org)), 401),
        (
            "a JWT of B naming A in app_metadata",
            bearer(
                token(b.user_id, a_org, organization_id=None, app_metadata={"organization_id": str(a_org)})
            ),
            401,
        ),
        ("a JWT of an unknown user naming A", bearer(token(uuid.uuid4(), a_org)), 401),
        ("a JWT of A without an organization", bearer(token(a.user_id, a_org, organization_id=None)), 401),
        ("a JWT signed with another secret", bearer(token(a.user_id, a_org, secret="x" * 40)), 401),
        # a custom role claim changes nothing over HTTP: B's JWT stays B's
        ("a JWT of B with a custom role", bearer(token(b.user_id, b_org, role=CUSTOM_AUTHENTICATED)), 404),
        ("a JWT of B claiming service_role", bearer(token(b.user_id, b_org, role="service_role")), 404),
    ]
    for who, headers, status in credentials:
        for method, path, expected in (
            ("GET", f"/api/leads/{a_ids['live']}", status),
            ("DELETE", f"/api/leads/{a_ids['live']}", status),
            ("POST", f"/api/leads/{a_ids['gone']}/restore", status),
            ("GET", "/api/leads", 401 if status == 401 else 200),
            ("POST", "/api/whatsapp", 401 if status == 401 else 404),
        ):
            kwargs: dict[str, Any] = {}
            if path == "/api/whatsapp":
                kwargs["json"] = {"to": "+15125550100", "message": "x", "phoneNumberId": A_NUMBER}
            response = two.api.request(method, path, headers=headers, **kwargs)
            leaked = (
                a_ids["live"] in response.text
                or "Ana Alpha" in response.text
                or two.state_of(two.a.organization_id) != a_before
            )
            LEDGER.record("http", f"{method} {path} with {who}", leaked)
            assert not leaked, (who, method, path, response.text)
            assert response.status_code == expected, (who, method, path, response.status_code, response.text)


# =============================================================================================
# (c) Row level security, as PostgREST reads the tables
# =============================================================================================


def test_rls_a_postgrest_read_returns_only_the_callers_organizations_rows(shared: Conn, seed: Seed) -> None:
    per_org = {
        table: {
            str(r[0]): int(r[1])
            for r in shared.execute(f"SELECT organization_id, count(*) FROM public.{table} GROUP BY 1")
        }
        for table in READABLE_TABLES
    }
    total = {table: sum(counts.values()) for table, counts in per_org.items()}
    assert all(
        per_org[t].get(seed.organization_id)
        for t in ("leads", "conversations", "messages", "whatsapp_numbers")
    )
    a_claims = {"sub": seed.user_id, "role": "authenticated", "organization_id": seed.organization_id}
    b_claims = {
        "sub": seed.other_user_id,
        "role": "authenticated",
        "organization_id": seed.other_organization_id,
    }
    readers: list[tuple[str, str, dict[str, Any] | None, str | None]] = [
        ("a member of A", "authenticated", a_claims, seed.organization_id),
        ("a member of B", "authenticated", b_claims, seed.other_organization_id),
        ("a member of B, granted too much", OVERGRANTED, b_claims, seed.other_organization_id),
        ("no claims", "authenticated", None, None),
        ("authenticated without a sub", "authenticated",
         {"role": "authenticated", "organization_id": seed.organization_id}, None),
        ("a member of B claiming A", "authenticated",
         {**b_claims, "organization_id": seed.organization_id}, None),
        ("a custom role IN ROLE authenticated", CUSTOM_AUTHENTICATED, None, None),
        ("a custom role claiming service_role", CUSTOM_AUTHENTICATED, {"role": "service_role"}, None),
    ]  # fmt: skip
    with supabase(shared) as roles:
        for who, role, claims, organization in readers:
            for table in READABLE_TABLES:
                roles.act(role, claims)
                seen = rows(shared, f"SELECT organization_id::text AS o FROM public.{table}")
                roles.service()
                expected = per_org[table].get(organization, 0) if organization else 0
                leaked = any(r["o"] != organization for r in seen)
                LEDGER.record("rls", f"{table} read by {who}", leaked)
                assert not leaked, (who, table)
                assert len(seen) == expected, (who, table, len(seen), expected)
        # the service reads every row by role (leadledger_service), whatever the claims say
        roles.act("leadledger_service", None)
        assert {t: value(shared, f"SELECT count(*) FROM public.{t}") for t in READABLE_TABLES} == total
        roles.service()
        # users and API keys are not opened to end users at all
        for table in ("api_keys", "app_users"):
            roles.act("authenticated", a_claims)
            with pytest.raises(psycopg.errors.InsufficientPrivilege), shared.transaction():
                shared.execute(f"SELECT 1 FROM public.{table}")
            roles.service()


# =============================================================================================
# (d) The migration, with data in the database
# =============================================================================================

BEFORE = "20261202040200"


def test_migration_moves_existing_rows_into_their_users_organizations(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        MigrationRunner(conn, [m for m in discover() if m.version < BEFORE], current=[]).upgrade()
        default = str(value(conn, "SELECT id FROM organizations WHERE is_default"))

        def user(email: str, *organizations: str) -> str:
            uid = str(value(conn, "INSERT INTO app_users (email) VALUES (%s) RETURNING id", email))
            for n, org in enumerate(organizations):
                conn.execute(
                    "INSERT INTO organization_members (organization_id, user_id, role, created_at)"
                    " VALUES (%s, %s, 'owner', now() + %s * interval '1 second')",
                    (org, uid, n),
                )
            return uid

        def organization(name: str) -> str:
            return str(value(conn, "INSERT INTO organizations (name) VALUES (%s) RETURNING id", name))

        ann_org, bob_org, later_org = organization("Ann"), organization("Bob"), organization("Later")
        ann = user("ann@example.com", ann_org)
        bob = user("bob@example.com", bob_org, later_org)  # two: his earliest membership wins
        nobody = user("nobody@example.com")  # no organization at all: the default one

        def lead(owner: str, phone: str) -> tuple[str, str]:
            lead_id = str(
                value(
                    conn,
                    "INSERT INTO leads (user_id, customer_phone, customer_name, lead_type)"
                    " VALUES (%s, %s, 'N', 'quote') RETURNING id",
                    owner,
                    phone,
                )
            )
            conversation = str(
                value(
                    conn,
                    "INSERT INTO conversations (lead_id, user_id) VALUES (%s, %s) RETURNING id",
                    lead_id,
                    owner,
                )
            )
            conn.execute(
                "INSERT INTO messages (conversation_id, direction, status, wa_message_id)"
                " VALUES (%s, 'inbound', 'received', %s)",
                (conversation, f"wamid.{lead_id}"),
            )
            for table, record in (("leads", lead_id), ("conversations", conversation)):
                conn.execute(
                    "INSERT INTO lead_audit_log (table_name, record_id, action, actor, new_values)"
                    " VALUES (%s, %s, 'INSERT', 'm', %s)",
                    (table, record, json.dumps({"id": record, "user_id": owner})),
                )
            return lead_id, conversation

        ann_lead, _ = lead(ann, "+15125550100")
        bob_lead, _ = lead(bob, "+15125550100")  # the same phone: another user, another organization
        nobody_lead, _ = lead(nobody, "+15125550101")
        conn.execute(
            "INSERT INTO whatsapp_numbers (phone_number_id, user_id)"
            " VALUES ('100200300400', %s), ('100200300500', %s)",
            (ann, bob),
        )
        # audit rows whose record is gone: the user their row names, else the default organization
        conn.execute(
            "INSERT INTO lead_audit_log (table_name, record_id, action, actor, old_values) VALUES"
            " ('leads', gen_random_uuid(), 'DELETE', 'm', %s),"
            " ('conversations', gen_random_uuid(), 'DELETE', 'm', NULL)",
            (json.dumps({"user_id": bob}),),
        )

        MigrationRunner(conn).upgrade()

        expected = {ann: ann_org, bob: bob_org, nobody: default}
        for owner, organization_id in expected.items():
            for table in ("leads", "conversations", "whatsapp_numbers"):
                found = {
                    str(r[0])
                    for r in conn.execute(
                        f"SELECT DISTINCT organization_id FROM {table} WHERE user_id = %s", [owner]
                    )
                }
                assert found <= {organization_id}, (table, owner)
        assert {
            str(r[0]) for r in conn.execute("SELECT organization_id FROM leads WHERE id = %s", [ann_lead])
        } == {ann_org}
        assert value(conn, "SELECT organization_id::text FROM leads WHERE id = %s", bob_lead) == bob_org
        assert value(conn, "SELECT organization_id::text FROM leads WHERE id = %s", nobody_lead) == default
        mismatched = value(
            conn,
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " JOIN leads l ON l.id = c.lead_id"
            " WHERE m.organization_id <> c.organization_id OR c.organization_id <> l.organization_id",
        )
        assert mismatched == 0
        audit = {
            (r["table_name"], r["record"], r["organization_id"])
            for r in rows(
                conn,
                "SELECT a.table_name, (l.id IS NOT NULL OR c.id IS NOT NULL) AS record,"
                " a.organization_id::text"
                " FROM lead_audit_log a LEFT JOIN leads l ON l.id = a.record_id"
                " LEFT JOIN conversations c ON c.id = a.record_id",
            )
        }
        assert audit == {
            ("leads", True, ann_org), ("conversations", True, ann_org),
            ("leads", True, bob_org), ("conversations", True, bob_org),
            ("leads", True, default), ("conversations", True, default),
            ("leads", False, bob_org),  # gone: the user its row names
            ("conversations", False, default),  # gone, naming no one
        }  # fmt: skip
        for table in (*READABLE_TABLES,):
            assert value(conn, f"SELECT count(*) FROM {table} WHERE organization_id IS NULL") == 0
        # and the functions work on the moved rows: each user's organization, its number's messages
        listed = fetch_sql(conn, "list_leads", p_user_id=ann)
        assert [str(r["lead_id"]) for r in listed] == [ann_lead]
        landed = call_sql(
            conn,
            "record_whatsapp_message",
            p_user_id=bob,
            p_wa_message_id="wamid.after",
            p_from_phone="15125550100",
            p_body="after the upgrade",
            p_organization_id=bob_org,
        )
        assert landed["lead_id"] == bob_lead, landed
