"""Sequences are closed to Supabase's API roles like tables (20261202000100_sequence_privileges):
the ones that exist, and the ones the migrating role creates later. Supabase is simulated in a
rolled-back transaction: its roles, and its default privileges on new sequences in public."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from leadledger.db.migrations import discover
from tests.helpers import rows, scalar

Conn = psycopg.Connection[Any]

ROLES = ("anon", "authenticated")


def _sequence_privileges(conn: Conn, sequence: str, role: str) -> bool:
    return bool(
        scalar(conn, "SELECT has_sequence_privilege(%s, %s, 'USAGE, SELECT, UPDATE')", role, sequence)
    )


def test_no_sequence_of_ours_is_open_to_public(conn: Conn) -> None:
    sequences = rows(
        conn,
        """SELECT c.oid::regclass::text AS name,
                  EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault('s', c.relowner))) a
                           WHERE a.grantee = 0) AS public_grant
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'S' AND n.nspname IN ('public', 'leadledger', 'etl_api')""",
    )
    assert sequences, "the identity columns have sequences"
    assert [s for s in sequences if s["public_grant"]] == []


def test_supabase_default_privileges_no_longer_open_sequences(conn: Conn) -> None:
    migration = next(m for m in discover() if m.name == "sequence_privileges")
    with conn.transaction(force_rollback=True):
        for role in ROLES:
            if not scalar(conn, "SELECT count(*) FROM pg_roles WHERE rolname = %s", role):
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        conn.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated"
        )
        conn.execute("CREATE TABLE public.lltest_before (id bigint GENERATED ALWAYS AS IDENTITY)")
        assert all(_sequence_privileges(conn, "public.lltest_before_id_seq", r) for r in ROLES)

        conn.execute(migration.sql.encode())  # what the migration does on a Supabase database

        assert not any(_sequence_privileges(conn, "public.lltest_before_id_seq", r) for r in ROLES)
        conn.execute("CREATE TABLE public.lltest_after (id bigint GENERATED ALWAYS AS IDENTITY)")
        assert not any(_sequence_privileges(conn, "public.lltest_after_id_seq", r) for r in ROLES)
