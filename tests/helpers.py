"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from leadledger.db.rpc import build_call

Conn = psycopg.Connection[Any]
Envelope = dict[str, Any]

_SYSTEM = "n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'"

# The non-owner grants of an ACL (owners' implicit rights differ between server versions).
_GRANTS = """
CREATE OR REPLACE FUNCTION pg_temp.grants(p_acl aclitem[], p_owner oid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
               || ':' || a.privilege_type, ',' ORDER BY 1), '')
      FROM aclexplode(coalesce(p_acl, acldefault('f', p_owner))) a
     WHERE a.grantee <> p_owner
$$
"""

CATALOG_SNAPSHOT = f"""
SELECT 'schema ' || n.nspname || ' ' || pg_temp.grants(n.nspacl, n.nspowner)
  FROM pg_namespace n WHERE {_SYSTEM} AND n.nspname <> ALL(%(exclude)s)
UNION ALL
SELECT 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text || ' '
       || pg_temp.grants(c.relacl, c.relowner) || CASE WHEN c.relrowsecurity THEN ' rls' ELSE '' END
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE {_SYSTEM} AND n.nspname <> ALL(%(exclude)s)
UNION ALL
SELECT 'policy ' || p.polrelid::regclass::text || ' ' || p.polname || ' ' || p.polcmd::text || ' '
       || (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END, ',' ORDER BY 1)
             FROM unnest(p.polroles) r)
       || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE {_SYSTEM} AND n.nspname <> ALL(%(exclude)s)
UNION ALL
SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' '
       || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
       || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped AND {_SYSTEM} AND n.nspname <> ALL(%(exclude)s)
UNION ALL
SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
 WHERE {_SYSTEM} AND n.nspname <> ALL(%(exclude)s) AND c.contype <> 'n'  -- PG 18 lists NOT NULL here
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text
       || ' -> ' || CASE WHEN p.proretset THEN 'setof ' ELSE '' END || format_type(p.prorettype, NULL)
       || ' | ' || l.lanname || ' '
       || CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END
       || CASE WHEN p.proparallel = 's' THEN ' parallel safe' ELSE '' END
       || CASE WHEN p.prosecdef THEN ' security definer' ELSE '' END
       || ' | ' || coalesce(array_to_string(p.proconfig, '; '), '')
       || ' | ' || pg_temp.grants(p.proacl, p.proowner)
       || CASE WHEN %(exact)s THEN ' | ' || md5(pg_get_functiondef(p.oid)) ELSE '' END
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
 WHERE {_SYSTEM} AND n.nspname <> ALL(%(exclude)s) AND p.prokind IN ('f', 'p', 'w')
UNION ALL
SELECT 'view ' || c.oid::regclass::text || ' ' || md5(pg_get_viewdef(c.oid))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE %(exact)s AND c.relkind IN ('v', 'm') AND {_SYSTEM} AND n.nspname <> ALL(%(exclude)s)
UNION ALL
SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE {_SYSTEM} AND n.nspname <> ALL(%(exclude)s) AND t.typtype IN ('e', 'd', 'c')
   AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
UNION ALL
SELECT 'enum ' || e.enumtypid::regtype::text || ' ' || e.enumlabel
  FROM pg_enum e
UNION ALL
SELECT 'trigger ' || tg.tgrelid::regclass::text || ' ' || tg.tgname || ': '
       || regexp_replace(pg_get_triggerdef(tg.oid), '^CREATE (CONSTRAINT )?TRIGGER [^ ]+ ', '')
  FROM pg_trigger tg WHERE NOT tg.tgisinternal
UNION ALL
SELECT 'extension ' || x.extname FROM pg_extension x WHERE x.extname <> 'plpgsql'
ORDER BY 1
"""


def catalog_snapshot(
    conn: psycopg.Connection[Any], exclude: tuple[str, ...] = (), *, exact: bool = True
) -> list[str]:
    """Every user-visible object of the database as sorted text lines, for schema diffs.

    A function's line shows its signature, result, language, volatility, security, settings and
    grants; ``exact`` adds a hash of each function's and view's whole definition, for comparing two
    databases (tests/db/schema.txt is written without it: the bodies are in the SQL files)."""
    conn.execute(_GRANTS)
    rows = conn.execute(CATALOG_SNAPSHOT, {"exclude": list(exclude), "exact": exact}).fetchall()
    return [str(r[0]) for r in rows]


def scalar(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def call_sql(conn: Conn, function: str, **params: Any) -> Envelope:
    """The raw envelope of one call, rendered exactly as the client renders it."""
    statement, values = build_call(function, params, rows=False)
    with psycopg.ClientCursor(conn) as cur:
        row = cur.execute(statement, values).fetchone()
    assert row is not None
    result: Envelope = row[0]
    return result


def fetch_sql(conn: Conn, function: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of a table-returning function, called as the client calls it."""
    statement, values = build_call(function, params, rows=True)
    with psycopg.ClientCursor(conn, row_factory=dict_row) as cur:
        return cur.execute(statement, values).fetchall()


def ok(conn: Conn, function: str, **params: Any) -> Envelope:
    """Call and insist on success."""
    result = call_sql(conn, function, **params)
    assert result["success"] is True, result
    return result


def rows(conn: Conn, query: str, *params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def one(conn: Conn, query: str, *params: Any) -> dict[str, Any]:
    found = rows(conn, query, *params)
    assert len(found) == 1, found
    return found[0]


def value(conn: Conn, query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def tables_state(conn: Conn, tables: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of each table: any insert, update or delete changes it."""
    query = " UNION ALL ".join(
        f"SELECT '{t}', count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '')"
        f" FROM public.{t} x"
        for t in tables
    )
    return {str(name): (int(n), str(digest)) for name, n, digest in conn.execute(query).fetchall()}


def sleep_trigger_sql(table: str, seconds: float, per: str = "ROW") -> str:
    """SQL for a trigger that makes every insert into ``public.<table>`` take ``seconds`` longer
    (FOR EACH ``per``): a call that outlives a statement timeout, for timeout tests."""
    assert table.isidentifier()
    assert per in ("ROW", "STATEMENT")
    return f"""
CREATE FUNCTION public.lltest_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep({float(seconds)});
    RETURN NULL;
END
$$;
CREATE TRIGGER lltest_slow AFTER INSERT ON public.{table}
    FOR EACH {per} EXECUTE FUNCTION public.lltest_slow();
"""
