"""Table privileges and row level security (docs/sql-conventions.md "Privileges", decisions D47,
D49): every table of ours in public is closed to PUBLIC and to Supabase's API roles, has row level
security on and is readable by leadledger_service (leadledger.secure_table, api_keys aside); every
table of an organization's rows has the org_members_read policy, so an end user's PostgREST read
returns his organization's rows only; users and API keys are never readable by API roles.

The expectations are read from the catalog (which tables carry ``organization_id``), not from a
list of tables: a new domain table is checked as soon as it exists. Supabase is simulated in
rolled-back transactions: its roles, the current state applied again with them present (the
grants it makes where ``authenticated`` exists), and PostgREST's ``SET LOCAL ROLE`` with
``request.jwt.claims``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql

from leadledger.db.migrations import current_state_sql, discover_current
from tests.helpers import ok, rows, scalar
from tests.tenants import LEDGER

Conn = psycopg.Connection[Any]

#: Readable by no API role, whatever their columns: users (emails) and API keys (hashes).
NOT_FOR_API_ROLES = {"public.app_users", "public.api_keys"}
#: Not read by the service either: only hashes of keys, which only authenticate_api_key reads.
NOT_FOR_THE_SERVICE = {"public.api_keys"}
#: The tables of ours whose rows belong to no one organization: the users (who belong to several
#: through organization_members) and the organizations themselves.
WITHOUT_ORGANIZATION_ID = {"public.app_users", "public.organizations"}
#: The column naming a row's organization: organization_id, or org_id in 004's ETL tables
#: (public.factor, etl_api.*).
TENANT_COLUMNS = ("organization_id", "org_id")
#: Tables whose id is an organization's id: the organizations, and 004's etl_api.org (1:1).
ORGANIZATION_KEYED = {"public.organizations", "etl_api.org"}

RLS_EXPRESSION = "= ( SELECT leadledger_rls.organization_id() AS organization_id))"


def public_tables(conn: Conn) -> list[dict[str, Any]]:
    return rows(
        conn,
        """
        SELECT n.nspname || '.' || c.relname AS name, c.relrowsecurity AS rls,
               EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                        WHERE a.grantee = 0) AS public_grant,
               has_table_privilege('leadledger_service', c.oid, 'SELECT') AS service_reads,
               has_table_privilege('leadledger_service', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                   AS service_writes,
               (SELECT min(a.attname::text) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped)
                   AS tenant_column,
               ARRAY(SELECT p.polname::text FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY 1) AS policies
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         ORDER BY 1
        """,
        list(TENANT_COLUMNS),
    )


def organization_tables(conn: Conn) -> list[str]:
    """The tables whose rows belong to an organization: what org_members_read must cover."""
    return [
        t["name"]
        for t in public_tables(conn)
        if (t["tenant_column"] or t["name"] == "public.organizations") and t["name"] not in NOT_FOR_API_ROLES
    ]


def test_every_public_table_has_row_level_security_and_no_public_grant(conn: Conn) -> None:
    tables = public_tables(conn)
    assert {"public.organizations", "public.organization_members", "public.app_users", "public.api_keys"} <= {
        t["name"] for t in tables
    }
    for table in tables:
        assert table["rls"], table
        assert not table["public_grant"], table
        assert not table["service_writes"], table
        reads = table["name"] not in NOT_FOR_THE_SERVICE
        assert table["service_reads"] == reads, table
        assert ("leadledger_service_reads" in table["policies"]) == reads, table


def test_every_organization_table_has_org_members_read(conn: Conn) -> None:
    """Tables with organization_id (org_id in 004's) and organizations have the policy; users
    and API keys do not (nor any other table: no policy, no row for an API role)."""
    tables = public_tables(conn)
    expected = set(organization_tables(conn))
    having = {t["name"] for t in tables if "org_members_read" in t["policies"]}
    assert having == expected
    for table in tables:
        assert set(table["policies"]) <= {"leadledger_service_reads", "org_members_read"}, table


def test_every_domain_table_names_its_organization(conn: Conn) -> None:
    """D45: every domain row carries organization_id, so row level security is one indexed
    comparison per table."""
    without = {t["name"] for t in public_tables(conn) if not t["tenant_column"]}
    assert without == WITHOUT_ORGANIZATION_ID


def test_org_members_read_is_one_comparison_with_the_claims_organization(conn: Conn) -> None:
    """Every org_members_read policy, in any schema: permissive, FOR SELECT, for every role,
    ``organization_id = (SELECT leadledger_rls.organization_id())`` (``id`` on organizations,
    ``org_id`` where 004 named it so), evaluated once per statement."""
    policies = rows(
        conn,
        """
        SELECT n.nspname || '.' || c.relname AS name, p.polcmd::text AS command,
               p.polpermissive AS permissive,
               (SELECT min(a.attname::text) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped)
                   AS tenant_column,
               p.polroles = '{0}'::oid[] AS every_role, pg_get_expr(p.polqual, p.polrelid) AS qual,
               p.polwithcheck IS NULL AS no_check
          FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE p.polname = 'org_members_read'
         ORDER BY 1
        """,
        list(TENANT_COLUMNS),
    )
    assert policies
    for policy in policies:
        column = "id" if policy["name"] in ORGANIZATION_KEYED else policy["tenant_column"]
        assert column, policy
        assert (policy["command"], policy["permissive"], policy["every_role"], policy["no_check"]) == (
            "r",
            True,
            True,
            True,
        ), policy
        assert policy["qual"] == f"({column} {RLS_EXPRESSION}", policy


# ---------------------------------------------------------------------------------------------
# As Supabase runs it
# ---------------------------------------------------------------------------------------------


@contextmanager
def supabase(conn: Conn) -> Iterator[Conn]:
    """A rolled-back transaction where Supabase's roles exist and the current state was applied
    with them present (so its grants to ``authenticated`` are made), as on a Supabase project."""
    with conn.transaction(force_rollback=True):
        for role in ("anon", "authenticated"):
            if not scalar(conn, "SELECT count(*) FROM pg_roles WHERE rolname = %s", role):
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        conn.execute(current_state_sql(discover_current()).encode())
        yield conn


@contextmanager
def as_role(conn: Conn, role: str, claims: dict[str, Any] | None = None) -> Iterator[Conn]:
    """PostgREST's request: the role switched to, the JWT claims set, for one savepoint."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        conn.execute(
            "SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims) if claims else "",)
        )
        yield conn
        conn.execute("RESET ROLE")


def test_api_roles_read_organization_tables_only(conn: Conn) -> None:
    with supabase(conn):
        expected = set(organization_tables(conn))
        for table in public_tables(conn):
            name = table["name"]
            authenticated = scalar(conn, "SELECT has_table_privilege('authenticated', %s, 'SELECT')", name)
            assert authenticated == (name in expected), name
            assert not scalar(
                conn,
                "SELECT has_table_privilege('authenticated', %s, 'INSERT, UPDATE, DELETE, TRUNCATE')",
                name,
            ), name
            assert not scalar(
                conn,
                "SELECT has_table_privilege('anon', %s, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')",
                name,
            ), name
        for name in sorted(NOT_FOR_API_ROLES):
            for role in ("anon", "authenticated"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), as_role(conn, role, {"role": role}):
                    conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(name)))


def test_an_end_users_read_returns_his_organizations_rows(conn: Conn) -> None:
    """``authenticated`` with a member's claims reads only his organization's rows of every
    organization table; without claims, with a non-member's claims, with user_metadata, or as
    a role made IN ROLE authenticated without claims, none."""
    a = str(ok(conn, "create_organization", p_name="Org A")["organization_id"])
    b = str(ok(conn, "create_organization", p_name="Org B")["organization_id"])
    a_user = str(ok(conn, "create_app_user", p_email="a@example.com", p_organization_id=a)["user_id"])
    b_user = str(ok(conn, "create_app_user", p_email="b@example.com", p_organization_id=b)["user_id"])
    with supabase(conn):
        tables = {
            t["name"]: "id" if t["name"] == "public.organizations" else t["tenant_column"]
            for t in public_tables(conn)
            if t["name"] in organization_tables(conn)
        }
        conn.execute("CREATE ROLE lltest_custom NOLOGIN IN ROLE authenticated")

        def visible(role: str, claims: dict[str, Any] | None) -> dict[str, set[str]]:
            seen: dict[str, set[str]] = {}
            with as_role(conn, role, claims):
                for name, column in tables.items():
                    query = sql.SQL("SELECT DISTINCT {}::text FROM {}").format(
                        sql.Identifier(column), sql.SQL(name)
                    )
                    seen[name] = {str(r[0]) for r in conn.execute(query).fetchall()}
            return seen

        mine = visible("authenticated", {"sub": a_user, "role": "authenticated", "organization_id": a})
        assert mine["public.organizations"] == {a}
        assert mine["public.organization_members"] == {a}
        for name, organizations in mine.items():
            LEDGER.record("rls", f"{name} as a member of A", not organizations <= {a})
            assert organizations <= {a}, name
        hook = {"sub": b_user, "role": "authenticated", "app_metadata": {"organization_id": b}}
        assert visible("authenticated", hook)["public.organizations"] == {b}
        for role, claims in (
            ("authenticated", None),
            ("authenticated", {"role": "authenticated"}),
            ("authenticated", {"sub": b_user, "role": "authenticated", "organization_id": a}),  # not a member
            (
                "authenticated",
                {"sub": a_user, "role": "authenticated", "user_metadata": {"organization_id": a}},
            ),
            ("authenticated", {"role": "authenticated", "organization_id": a}),  # no user
            ("lltest_custom", None),
            ("lltest_custom", {"role": "lltest_custom"}),
        ):
            seen = visible(role, claims)
            for name, organizations in seen.items():
                LEDGER.record("rls", f"{name} as {role} with {claims}", bool(organizations))
            assert all(not organizations for organizations in seen.values()), (role, claims, seen)


def test_secure_table_closes_a_table_the_api_roles_were_granted(conn: Conn) -> None:
    """Supabase grants anon and authenticated ALL on new tables in public; secure_table takes it
    back. Everything here (roles included: CREATE ROLE is transactional) is rolled back."""
    with conn.transaction(force_rollback=True):
        for role in ("anon", "authenticated"):
            if not scalar(conn, "SELECT count(*) FROM pg_roles WHERE rolname = %s", role):
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        conn.execute("CREATE TABLE public.lltest_exposed (id int)")
        conn.execute("INSERT INTO public.lltest_exposed VALUES (1), (2)")
        conn.execute("GRANT ALL ON public.lltest_exposed TO anon, authenticated")
        conn.execute("SELECT leadledger.secure_table('public.lltest_exposed')")
        for role in ("anon", "authenticated"):
            privileges = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"
            query = "SELECT has_table_privilege(%s, 'public.lltest_exposed', %s)"
            assert scalar(conn, query, role, privileges) is False
        # A grant added by mistake later still shows no row: row level security.
        conn.execute("GRANT SELECT ON public.lltest_exposed TO anon")
        conn.execute("SET LOCAL ROLE anon")
        assert scalar(conn, "SELECT count(*) FROM public.lltest_exposed") == 0
        conn.execute("SET LOCAL ROLE leadledger_service")
        assert scalar(conn, "SELECT count(*) FROM public.lltest_exposed") == 2
    assert scalar(conn, "SELECT to_regclass('public.lltest_exposed') IS NULL") is True
