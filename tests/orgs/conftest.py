"""Fixtures and helpers of the organizations SQL tests (tests/orgs/test_sql_*.py).

Two ways of calling:

- as the service: the test server's session role is a superuser, which holds leadledger_service's
  privileges, so ``call_sql`` acts as the service (any organization; ``p_acting_user_id`` is the
  user the HTTP API acts for, left out for the CLI);
- as an end user, as PostgREST calls for Supabase's ``authenticated``: :func:`end_users` opens a
  transaction (rolled back at the end, so the role it creates disappears with it) with a role
  that is not a member of leadledger_service and may only EXECUTE the functions;
  :meth:`EndUsers.call` switches to it (``SET LOCAL ROLE``) with ``request.jwt.claims`` set
  locally, and back.

``Tenants`` (fixture ``tenants``): two organizations, A (owner, admin, member, each with an API
key) and B (owner and member, with keys); cross-tenant tests act as B's people on A's objects.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

import leadledger.orgs
from tests.helpers import Conn, Envelope, call_sql, fetch_sql, ok, tables_state
from tests.tenants import EndUsers, claims  # noqa: F401 - claims is re-exported for the test modules
from tests.tenants import end_users as shared_end_users

#: The tables of the organizations domain: a refused call changes none of them.
ORG_TABLES: tuple[str, ...] = ("organizations", "organization_members", "app_users", "api_keys")

#: The organizations domain's functions for end users (``secure_function(..., true)``): what
#: Supabase's ``authenticated`` may EXECUTE. The others (create_app_user, authenticate_api_key)
#: are the service's.
END_USER_FUNCTIONS: tuple[str, ...] = tuple(
    match
    for path in sorted((Path(leadledger.orgs.__file__).parent / "sql").glob("*.sql"))
    for match in re.findall(r"secure_function\('([^']+)',\s*true\)", path.read_text())
)

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
FAILURE_KEYS = {"success", "error", "error_code", "error_detail", "retry_recommended"}


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def state(conn: Conn) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table of the domain."""
    return tables_state(conn, ORG_TABLES)


def assert_failed(
    conn: Conn,
    function: str,
    *,
    code: str,
    error: str | None = None,
    field: str | None = None,
    **params: Any,
) -> Envelope:
    """Call as the service expecting a failure envelope with SQLSTATE ``code`` (and exactly
    ``error``, or a 22023 naming ``field``) that changed no table."""
    before = state(conn)
    result = call_sql(conn, function, **params)
    check_failure(result, code, error, field)
    assert state(conn) == before, f"{function} failed but changed something"
    return result


def check_failure(result: Envelope, code: str, error: str | None = None, field: str | None = None) -> None:
    assert result["success"] is False, result
    assert set(result) >= FAILURE_KEYS, result
    assert result["error_code"] == code, result
    if error is not None:
        assert result["error"] == error, result
    if field is not None:
        assert result["error"].startswith(f"{field}: "), result


def sql_error(conn: Conn, function: str, **params: Any) -> psycopg.Error:
    """The error a table-returning function raises (it cannot answer with an envelope), inside a
    savepoint when a transaction is open."""
    try:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            with conn.transaction():
                fetch_sql(conn, function, **params)
        else:
            fetch_sql(conn, function, **params)
    except psycopg.Error as exc:
        return exc
    raise AssertionError(f"{function} did not refuse")


# ---------------------------------------------------------------------------------------------
# Building data
# ---------------------------------------------------------------------------------------------


def new_organization(conn: Conn, name: str = "Org", owner: str | None = None) -> str:
    return str(ok(conn, "create_organization", p_name=name, p_owner_user_id=owner)["organization_id"])


def new_user(
    conn: Conn, organization: str | None = None, role: str = "member", email: str | None = None
) -> str:
    result = ok(
        conn,
        "create_app_user",
        p_email=email or f"{uuid.uuid4().hex[:10]}@example.com",
        p_organization_id=organization,
        p_role=role,
    )
    return str(result["user_id"])


def new_key(conn: Conn, user: str, organization: str | None = None, name: str = "default") -> tuple[str, str]:
    """(api key id, hash) of a new key of ``user`` in ``organization``."""
    digest = key_hash(f"llk_{uuid.uuid4().hex}")
    created = ok(
        conn, "create_api_key", p_user_id=user, p_key_hash=digest, p_name=name, p_organization_id=organization
    )
    return str(created["api_key_id"]), digest


def role_of(conn: Conn, organization: str, user: str) -> str | None:
    row = conn.execute(
        "SELECT role FROM organization_members WHERE organization_id = %s AND user_id = %s",
        (organization, user),
    ).fetchone()
    return None if row is None else str(row[0])


@dataclass(frozen=True)
class Tenants:
    """Organization A: owner, admin, member (each with a key); organization B: owner, member."""

    a: str
    a_owner: str
    a_admin: str
    a_member: str
    a_owner_key: str
    a_member_key: str
    a_member_hash: str
    b: str
    b_owner: str
    b_member: str
    b_owner_key: str


def make_tenants(conn: Conn) -> Tenants:
    a = new_organization(conn, "Org A")
    a_owner = new_user(conn, a, "owner", "owner-a@example.com")
    a_admin = new_user(conn, a, "admin", "admin-a@example.com")
    a_member = new_user(conn, a, "member", "member-a@example.com")
    b = new_organization(conn, "Org B")
    b_owner = new_user(conn, b, "owner", "owner-b@example.com")
    b_member = new_user(conn, b, "member", "member-b@example.com")
    a_owner_key, _ = new_key(conn, a_owner, a)
    a_member_key, a_member_hash = new_key(conn, a_member, a)
    b_owner_key, _ = new_key(conn, b_owner, b)
    return Tenants(
        a,
        a_owner,
        a_admin,
        a_member,
        a_owner_key,
        a_member_key,
        a_member_hash,
        b,
        b_owner,
        b_member,
        b_owner_key,
    )


# ---------------------------------------------------------------------------------------------
# End users, as PostgREST calls for them
# ---------------------------------------------------------------------------------------------


@contextmanager
def end_users(conn: Conn) -> Iterator[EndUsers]:
    """A role like Supabase's ``authenticated`` allowed to EXECUTE the domain's end-user
    functions (:data:`END_USER_FUNCTIONS`) and nothing else (tests/tenants.py)."""
    with shared_end_users(conn, END_USER_FUNCTIONS) as users:
        yield users


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pg(conn: Conn) -> Conn:
    """The fresh per-test database (tests/conftest.py ``conn``), autocommit."""
    return conn


@pytest.fixture
def tenants(pg: Conn) -> Tenants:
    return make_tenants(pg)


@pytest.fixture(scope="module")
def shared(shared_db_url: str) -> Iterator[Conn]:
    """One database for the whole module, for calls that must write nothing."""
    with psycopg.connect(shared_db_url, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def shared_tenants(shared: Conn) -> Tenants:
    return make_tenants(shared)
