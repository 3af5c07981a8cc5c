"""Fixtures and helpers of the leads SQL tests (tests/leads/test_sql_*.py).

Two kinds of database:

- ``pg`` / ``database`` (from tests/conftest.py): a fresh migrated clone per test, for every test
  that expects a write.
- ``shared``: one clone per test module, seeded once (``seed``), for the long tables of bad inputs
  and for reads. Each of those tests asserts that its call wrote nothing (``assert_failed`` compares
  the contents of every table of the domain before and after), so they cannot disturb each other.

``call_sql`` calls a function the way the Python client does (one ``SELECT fn(p_a := literal, ...)``
through a ``ClientCursor``) but returns the raw envelope, failures included, so tests can check it
exactly; ``assert_failed`` also checks that the failed call wrote nothing at all.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from leadledger.db.migrations import discover_current
from tests.helpers import (  # noqa: F401 - re-exported for the test modules
    Conn,
    Envelope,
    call_sql,
    fetch_sql,
    ok,
    one,
    rows,
    tables_state,
    value,
)

#: Every table of the leads domain: a failed call must change none of them.
LEAD_TABLES: tuple[str, ...] = (
    "app_users",
    "api_keys",
    "whatsapp_numbers",
    "leads",
    "conversations",
    "messages",
    "lead_audit_log",
)

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
FAILURE_KEYS = {"success", "error", "error_code", "error_detail", "retry_recommended"}


def phone(n: int) -> str:
    """A valid E.164 number, distinct for each n < 10000."""
    return f"+1512555{n:04d}"


# ---------------------------------------------------------------------------------------------
# Calling and inspecting
# ---------------------------------------------------------------------------------------------


def counts(conn: Conn) -> dict[str, int]:
    """Row counts of leads, conversations, messages and the audit log."""
    query = " UNION ALL ".join(
        f"SELECT '{t}', count(*) FROM public.{t}"
        for t in ("leads", "conversations", "messages", "lead_audit_log")
    )
    return {str(name): int(n) for name, n in conn.execute(query).fetchall()}


def table_state(conn: Conn) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table of the domain."""
    return tables_state(conn, LEAD_TABLES)


def assert_failed(
    conn: Conn,
    function: str,
    *,
    code: str,
    error: str | None = None,
    field: str | None = None,
    fragment: str = "",
    **params: Any,
) -> Envelope:
    """Call expecting a failure envelope with SQLSTATE ``code``; for 22023 its message names
    ``field``; ``error`` (when given) is the exact message; the call changed no table."""
    before_counts = counts(conn)
    before = table_state(conn)
    result = call_sql(conn, function, **params)
    assert result["success"] is False, result
    assert result["error_code"] == code, result
    assert result["retry_recommended"] is False, result
    assert set(result) >= FAILURE_KEYS, result
    if error is not None:
        assert result["error"] == error, result
    if field is not None:
        assert result["error"].startswith(f"{field}: "), result
    assert fragment in result["error"], result
    assert counts(conn) == before_counts, f"{function} failed but wrote rows"
    assert table_state(conn) == before, f"{function} failed but changed something"
    return result


@contextmanager
def jwt_claims(conn: Conn, claims: dict[str, Any]) -> Iterator[Conn]:
    """A transaction with ``request.jwt.claims`` set for it alone, as PostgREST sets it. The
    session's role stays (on the test server a superuser: the service, whatever the claims)."""
    with conn.transaction():
        conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        yield conn


#: A role that is not the service and was granted too much by mistake: EXECUTE on every function
#: of public and SELECT on the domain's tables. Only the functions' own checks (org_scope) and
#: row level security stand between it and other organizations' rows.
OVERGRANTED = "lltest_overgranted"
#: A custom role made IN ROLE authenticated, as the issue's review found one.
CUSTOM_AUTHENTICATED = "lltest_custom_authenticated"
#: The tables end users may read through PostgREST (row level security by organization).
READABLE_TABLES = ("leads", "conversations", "messages", "whatsapp_numbers", "lead_audit_log")


class Supabase:
    """Supabase's roles in a transaction that is rolled back: see :func:`supabase`."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def act(self, role: str | None, claims: dict[str, Any] | None) -> Conn:
        """Call as ``role`` (None: the session's, the service) with ``claims`` (None: none), as
        PostgREST does: both local to the transaction."""
        self.conn.execute("RESET ROLE")
        self.conn.execute(
            "SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims) if claims else "",)
        )
        if role is not None:
            self.conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        return self.conn

    def member(self, user_id: str, organization_id: str, role: str = "authenticated") -> Conn:
        """A signed-in member: ``authenticated`` with his JWT's claims (sub, organization_id)."""
        return self.act(role, {"sub": user_id, "role": "authenticated", "organization_id": organization_id})

    def service(self) -> Conn:
        """Back to the session's role, without claims: the service (and table digests see every row)."""
        return self.act(None, None)


@contextmanager
def supabase(conn: Conn) -> Iterator[Supabase]:
    """A transaction, rolled back at the end, with Supabase's roles as a Supabase project has
    them: ``authenticated`` (created when the server has none), granted what the current state
    grants it (the leads files are applied again in the transaction, so secure_function(..., true)
    and org_open_reads find the role); :data:`CUSTOM_AUTHENTICATED` IN ROLE authenticated; and
    :data:`OVERGRANTED`. Roles are cluster-wide but CREATE ROLE is transactional: nothing stays.
    Assert inside the block: whatever the calls wrote is rolled back with it."""
    with conn.transaction(force_rollback=True):
        conn.execute(
            """DO $$ BEGIN
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
                       CREATE ROLE authenticated NOLOGIN;
                   END IF;
               END $$"""
        )
        conn.execute(
            sql.SQL("CREATE ROLE {} NOLOGIN IN ROLE authenticated").format(
                sql.Identifier(CUSTOM_AUTHENTICATED)
            )
        )
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(OVERGRANTED)))
        for current in discover_current(["leadledger.leads"]):
            conn.execute(current.sql)
        conn.execute(
            sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {}").format(
                sql.Identifier(OVERGRANTED)
            )
        )
        for table in READABLE_TABLES:
            conn.execute(
                sql.SQL("GRANT SELECT ON public.{} TO {}").format(
                    sql.Identifier(table), sql.Identifier(OVERGRANTED)
                )
            )
        yield Supabase(conn)


@contextmanager
def end_user(conn: Conn, user_id: str, organization_id: str | None = None) -> Iterator[Conn]:
    """A rolled-back transaction acting as the end user ``user_id`` in ``organization_id`` (his
    organization when not given) through Supabase's ``authenticated`` role (see :func:`supabase`)."""
    organization = organization_id or organization_of(conn, user_id)
    with supabase(conn) as roles:
        yield roles.member(user_id, organization)


# ---------------------------------------------------------------------------------------------
# Building data
# ---------------------------------------------------------------------------------------------


def new_user(conn: Conn, email: str | None = None, name: str | None = None) -> str:
    result = ok(conn, "create_app_user", p_email=email or f"{uuid.uuid4().hex[:10]}@example.com", p_name=name)
    return str(result["user_id"])


def organization_of(conn: Conn, user_id: str) -> str:
    """The organization of a user (create_app_user gave him one of his own)."""
    return str(value(conn, "SELECT organization_id FROM organization_members WHERE user_id = %s", user_id))


def new_lead(
    conn: Conn,
    user_id: str,
    customer_phone: str,
    customer_name: str | None = "Ana Souza",
    lead_type: str = "inquiry",
    **params: Any,
) -> Envelope:
    return ok(
        conn,
        "create_lead_with_conversation",
        p_user_id=user_id,
        p_customer_phone=customer_phone,
        p_customer_name=customer_name,
        p_lead_type=lead_type,
        **params,
    )


def inbound(
    conn: Conn, user_id: str, wa_message_id: str, from_phone: str, body: str = "Hi", **params: Any
) -> Envelope:
    return ok(
        conn,
        "record_whatsapp_message",
        p_user_id=user_id,
        p_wa_message_id=wa_message_id,
        p_from_phone=from_phone,
        p_body=body,
        **params,
    )


def lead_row(conn: Conn, lead_id: str) -> dict[str, Any]:
    return one(conn, "SELECT * FROM public.leads WHERE id = %s", lead_id)


def conversations_of(conn: Conn, lead_id: str) -> list[dict[str, Any]]:
    return rows(
        conn, "SELECT * FROM public.conversations WHERE lead_id = %s ORDER BY created_at, id", lead_id
    )


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pg(conn: Conn) -> Conn:
    """The fresh per-test database (tests/conftest.py ``conn``), autocommit."""
    return conn


@pytest.fixture
def user_id(pg: Conn) -> str:
    """An owner of leads, created with create_app_user."""
    return new_user(pg, "owner@example.com", "Owner")


@pytest.fixture
def other_user_id(pg: Conn) -> str:
    """A second owner: another tenant."""
    return new_user(pg, "other@example.com", "Other")


@pytest.fixture
def lead(pg: Conn, user_id: str) -> Envelope:
    """A lead of ``user_id`` (+15125550100) with its active conversation."""
    return new_lead(pg, user_id, "+15125550100", "Ana Souza")


@pytest.fixture(scope="module")
def shared(shared_db_url: str) -> Iterator[Conn]:
    """One database for the whole module, for calls that must write nothing."""
    with psycopg.connect(shared_db_url, autocommit=True) as c:
        yield c


@dataclass(frozen=True)
class Seed:
    """What the shared database holds."""

    user_id: str
    other_user_id: str
    lead_id: str  # SEED_PHONE, with one inbound (SEED_WA_ID) and one outbound (SEED_OUT_WA_ID) message
    conversation_id: str
    other_lead_id: str  # the other user's lead, for SEED_PHONE too, with one inbound message
    deleted_lead_id: str  # a soft-deleted lead of user_id (SEED_DELETED_PHONE)
    key_hash: str
    phone_number_id: str  # a WhatsApp number of user_id's organization
    organization_id: str  # user_id's
    other_organization_id: str  # other_user_id's


SEED_PHONE = "+15125550100"
SEED_DELETED_PHONE = "+15125550199"
SEED_WA_ID = "wamid.seed-in"
SEED_OUT_WA_ID = "wamid.seed-out"
SEED_OTHER_WA_ID = "wamid.seed-other-in"  # an inbound message of the other user's lead


@pytest.fixture(scope="module")
def seed(shared: Conn) -> Seed:
    user = new_user(shared, "seed@example.com", "Seed")
    other = new_user(shared, "seed-other@example.com", "Seed other")
    created = new_lead(shared, user, SEED_PHONE, "Seed lead")
    inbound(shared, user, SEED_WA_ID, SEED_PHONE.lstrip("+"))
    ok(
        shared,
        "record_whatsapp_outgoing",
        p_user_id=user,
        p_to_phone=SEED_PHONE,
        p_body="Hello",
        p_wa_message_id=SEED_OUT_WA_ID,
    )
    other_lead = new_lead(shared, other, SEED_PHONE, "Other's lead")
    inbound(shared, other, SEED_OTHER_WA_ID, SEED_PHONE.lstrip("+"))
    deleted = new_lead(shared, user, SEED_DELETED_PHONE, "Deleted lead")
    ok(shared, "soft_delete_lead", p_lead_id=deleted["lead_id"])
    key_hash = "ab" * 32
    ok(shared, "create_api_key", p_user_id=user, p_key_hash=key_hash)
    ok(shared, "link_whatsapp_number", p_user_id=user, p_phone_number_id="1098765432")
    return Seed(
        user_id=user,
        other_user_id=other,
        lead_id=str(created["lead_id"]),
        conversation_id=str(created["conversation_id"]),
        other_lead_id=str(other_lead["lead_id"]),
        deleted_lead_id=str(deleted["lead_id"]),
        key_hash=key_hash,
        phone_number_id="1098765432",
        organization_id=organization_of(shared, user),
        other_organization_id=organization_of(shared, other),
    )
