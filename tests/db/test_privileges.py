"""Table privileges: every table of ours in public is closed to PUBLIC and to Supabase's API roles,
has row level security on, and is readable by leadledger_service (leadledger.secure_table)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from tests.helpers import rows, scalar

Conn = psycopg.Connection[Any]


def test_every_public_table_has_row_level_security_and_no_public_grant(conn: Conn) -> None:
    tables = rows(
        conn,
        """
        SELECT c.relname, c.relrowsecurity,
               EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                        WHERE a.grantee = 0) AS public_grant,
               has_table_privilege('leadledger_service', c.oid, 'SELECT') AS service_reads,
               has_table_privilege('leadledger_service', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                   AS service_writes,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         ORDER BY c.relname
        """,
    )
    assert len(tables) == 17
    for table in tables:
        assert table["relrowsecurity"], table
        assert not table["public_grant"], table
        assert not table["service_writes"], table
        reads = table["relname"] != "api_keys"  # only hashes of keys; the service never reads them
        assert (table["service_reads"], table["policies"]) == (reads, int(reads)), table


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
