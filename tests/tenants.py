"""Members of organizations for tests: a user in an organization, with an API key acting there."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg import sql

from leadledger.api.auth import new_api_key
from leadledger.db import Database
from leadledger.orgs.client import OrgsClient
from leadledger.orgs.models import Role
from tests.helpers import Conn, Envelope, call_sql, fetch_sql


@dataclass(frozen=True)
class Member:
    user_id: UUID
    organization_id: UUID
    role: Role
    key: str
    email: str

    @property
    def auth(self) -> dict[str, str]:
        """Headers that authenticate as this member (his API key)."""
        return {"X-API-Key": self.key}


def new_member(
    db: Database,
    email: str | None = None,
    name: str | None = None,
    *,
    organization_id: UUID | None = None,
    role: Role = Role.MEMBER,
) -> Member:
    """A new user with an API key: in ``organization_id`` with ``role``, or (without one) the
    owner of an organization of his own."""
    orgs = OrgsClient(db)
    user = orgs.create_user(email or f"user-{uuid4().hex[:10]}@example.com", name, organization_id, role)
    key, digest = new_api_key()
    orgs.create_api_key(user.user_id, digest, organization_id=user.organization_id)
    return Member(user.user_id, user.organization_id, user.role, key, user.email)


# ---------------------------------------------------------------------------------------------
# Cross-tenant probes: every test that tries to reach another organization's data counts its
# attempts here, and how many of them got through (must be 0); the totals are printed at the end
# of the run (tests/conftest.py: pytest_terminal_summary) for the report.
# ---------------------------------------------------------------------------------------------


@dataclass
class CrossTenantLedger:
    attempts: dict[str, int]
    leaks: dict[str, list[str]]

    def record(self, surface: str, what: str, leaked: bool) -> None:
        """One attempt on ``surface`` (``http``, ``sql``, ``rls``, ...); ``what`` names it in a
        leak report. Tests still assert on each attempt; this only counts."""
        self.attempts[surface] = self.attempts.get(surface, 0) + 1
        if leaked:
            self.leaks.setdefault(surface, []).append(what)


LEDGER = CrossTenantLedger({}, {})


# ---------------------------------------------------------------------------------------------
# End users as PostgREST calls for them: a role like Supabase's ``authenticated`` (not a member
# of leadledger_service) with JWT claims set locally. On the test server the session role is a
# superuser, which org_scope rightly takes for the service; these switch to a throw-away role,
# created in a transaction that is rolled back (CREATE ROLE is transactional).
# ---------------------------------------------------------------------------------------------


def claims(user: object | None, organization: object | None, **more: Any) -> dict[str, Any]:
    """A Supabase user's JWT claims naming his organization (the top-level claim)."""
    found: dict[str, Any] = {"role": "authenticated", **more}
    if user is not None:
        found["sub"] = str(user)
    if organization is not None:
        found["organization_id"] = str(organization)
    return found


@dataclass
class EndUsers:
    """Calls made as ``role`` with the claims given to each (None: no claims at all)."""

    conn: Conn
    role: str

    @contextmanager
    def acting(self, token: dict[str, Any] | None) -> Iterator[Conn]:
        """Inside a savepoint: the end-user role, with these claims."""
        with self.conn.transaction():
            self.conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self.role)))
            self.conn.execute(
                "SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(token) if token else "",)
            )
            try:
                yield self.conn
            finally:
                if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
                    self.conn.execute("RESET ROLE")
                    self.conn.execute("SELECT set_config('request.jwt.claims', '', true)")

    def call(self, token: dict[str, Any] | None, function: str, **params: Any) -> Envelope:
        with self.acting(token) as c:
            return call_sql(c, function, **params)

    def fetch(self, token: dict[str, Any] | None, function: str, **params: Any) -> list[dict[str, Any]]:
        with self.acting(token) as c:
            return fetch_sql(c, function, **params)

    def fetch_or_error(
        self, token: dict[str, Any] | None, function: str, **params: Any
    ) -> list[dict[str, Any]] | psycopg.Error:
        """The rows of a table-returning function, or the error it raised."""
        try:
            return self.fetch(token, function, **params)
        except psycopg.Error as exc:
            return exc

    def error(self, token: dict[str, Any] | None, function: str, **params: Any) -> psycopg.Error | None:
        """The error a table-returning function raises for this caller (None: it answered)."""
        found = self.fetch_or_error(token, function, **params)
        return found if isinstance(found, psycopg.Error) else None

    def select(self, token: dict[str, Any] | None, table: str, column: str) -> list[UUID]:
        """The organizations of the rows this caller reads from ``table`` directly."""
        with self.acting(token) as c:
            return [UUID(str(r[0])) for r in c.execute(f"SELECT {column} FROM {table}").fetchall()]


@contextmanager
def end_users(
    conn: Conn,
    functions: Iterable[str],
    *,
    tables: Iterable[str] = (),
    schemas: Iterable[str] = (),
    member_of: str | None = None,
) -> Iterator[EndUsers]:
    """A transaction, rolled back at the end, with a new role (``IN ROLE member_of`` if given)
    allowed to EXECUTE ``functions`` (regprocedure texts), to use ``schemas`` and to SELECT
    ``tables``: the grants Supabase gives ``authenticated``, or ones given by mistake."""
    role = f"lltest_end_user_{uuid4().hex[:8]}"
    with conn.transaction(force_rollback=True):
        create = sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role))
        if member_of:
            create = sql.SQL("{} IN ROLE {}").format(create, sql.Identifier(member_of))
        conn.execute(create)
        for schema in schemas:
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role))
            )
        for function in functions:
            conn.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), sql.Identifier(role))
            )
        for table in tables:
            conn.execute(
                sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(sql.SQL(table), sql.Identifier(role))
            )
        yield EndUsers(conn, role)
