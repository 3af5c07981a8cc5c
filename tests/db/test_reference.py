"""docs/sql-reference.md (leadledger.db.reference): generated from the current-state SQL files,
never stale, complete (every function granted through secure_function), and parsed right: what
the parser reads of every function is what PostgreSQL reports for the function the file creates
(pg_get_function_arguments / pg_get_function_result, defaults, SET clauses)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from leadledger.db.migrations import CurrentFile, discover_current
from leadledger.db.reference import REFERENCE_PATH, SqlFunction, check, parse, render_reference

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / REFERENCE_PATH
REGENERATE = "run `.venv/bin/leadledger docs sql-reference`"

Conn = psycopg.Connection[Any]

# What the current files must not trip the parser on, in one file: multi-line argument lists,
# defaults with commas, parentheses and quotes, OUT/INOUT/VARIADIC, a RETURNS TABLE over lines,
# SETOF, LANGUAGE sql (quoted, dollar-quoted, BEGIN ATOMIC), comments anywhere, a grant over
# lines with a named argument. Created in a rolled-back transaction for the database check.
PROBE = CurrentFile(
    "leadledger.db",
    "99_reference_probe.sql",
    """\
-- -------------------------------------------------------------------------------------------
-- A section banner, not a header.
-- -------------------------------------------------------------------------------------------
-- lltest_ref_defaults: defaults that hold commas, parentheses and quotes.
-- Guarantees: none, it is a probe; <field> and * stay visible.
-- Items: a second paragraph.
CREATE OR REPLACE FUNCTION public.lltest_ref_defaults(
    p_a integer,                                   -- a comment, with a comma (and parentheses)
    p_lease interval DEFAULT '5 minutes',
    p_fields jsonb DEFAULT '{}'::jsonb,
    p_amount numeric(14, 6) DEFAULT round(1.5, 0),
    p_quote text DEFAULT 'it''s, (really); -- not a comment',
    p_list text[] DEFAULT ARRAY['a,b', 'c)'],
    p_nothing uuid DEFAULT NULL,
    p_dollar text DEFAULT $q$a, 'b'$q$,
    p_flag boolean = true
) RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
-- a comment between two clauses
SET statement_timeout TO '30s'
AS $body$
BEGIN
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'a', p_a, 'semicolon', ';', 'nested', jsonb_build_object('x', 1)));
END
$body$;
SELECT leadledger.secure_function(
    p_function => 'public.lltest_ref_defaults(int, interval, jsonb, numeric, text, text[], uuid, text, bool)',
    p_end_user => true);

/* lltest_ref_outs has no header: this block comment is not one. */
CREATE OR REPLACE FUNCTION public.lltest_ref_outs(p_in text, OUT state text, INOUT p_count integer,
                                                  OUT "Quoted Name" boolean)
LANGUAGE sql
STABLE
AS $$ SELECT p_in, p_count + 1, true $$;
SELECT leadledger.secure_function('public.lltest_ref_outs(text, integer)');

-- lltest_ref_rows: a RETURNS TABLE over several lines.
CREATE OR REPLACE FUNCTION public.lltest_ref_rows(p_limit integer DEFAULT 10)
RETURNS TABLE (
    id uuid,
    amount numeric(14, 6),   -- a type modifier with a comma
    "rows" bigint
)
LANGUAGE 'sql' STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT NULL::uuid, 1.0, 2::bigint LIMIT p_limit $$;
SELECT leadledger.secure_function('public.lltest_ref_rows(integer)');

-- lltest_ref_setof: RETURNS SETOF, a quoted body, clauses after the body.
CREATE FUNCTION public.lltest_ref_setof(p_n integer) RETURNS SETOF integer
AS 'SELECT generate_series(1, p_n)' LANGUAGE sql IMMUTABLE PARALLEL SAFE;

-- lltest_ref_atomic: a SQL-standard body with semicolons and CASE ... END inside.
CREATE OR REPLACE FUNCTION public.lltest_ref_atomic(p_x integer, p_y integer DEFAULT 2)
RETURNS integer
LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE WHEN p_x > 0 THEN p_x ELSE p_y END;
    SELECT p_x + p_y;
END;
SELECT leadledger.secure_function('public.lltest_ref_atomic(integer, integer)');

-- lltest_ref_variadic: VARIADIC, and a type of two words.
CREATE OR REPLACE FUNCTION public.lltest_ref_variadic(p_at timestamp with time zone, VARIADIC p_items text[])
RETURNS double precision LANGUAGE sql AS $$ SELECT 1.5::double precision $$;
""",
)


def _granted_in_files() -> dict[str, bool]:
    """``{"schema.name": end_user}`` of every secure_function call in the SQL files, read with a
    plain regular expression (independent of the parser under test)."""
    grants: dict[str, bool] = {}
    for f in discover_current():
        text = re.sub(r"--[^\n]*", "", f.sql)
        for m in re.finditer(
            r"leadledger\.secure_function\(\s*'([^'(]+)\([^']*\)'\s*(,\s*(?:p_end_user\s*=>\s*)?true)?\s*\)",
            text,
            re.I,
        ):
            grants[m.group(1).strip().lower()] = m.group(2) is not None
    return grants


def _sections(doc: str) -> dict[str, str]:
    """The function sections of the reference: heading name -> text."""
    parts = re.split(r"^### `([^`]+)`$", doc, flags=re.M)
    return {parts[i]: parts[i + 1].split("\n## ")[0] for i in range(1, len(parts), 2)}


def test_committed_reference_is_current() -> None:
    problem = check(DOC)
    assert problem is None, f"{problem}\n\n{REGENERATE}"


def test_every_granted_function_is_documented() -> None:
    granted = _granted_in_files()
    assert granted, "no secure_function call found in the SQL files"
    sections = _sections(render_reference())
    assert sorted(sections) == sorted(granted), "documented functions != functions granted by secure_function"
    for name, end_user in granted.items():
        who = "service and end users" in sections[name]
        assert who == end_user, f"{name}: end-user callable is {end_user} in the SQL, {who} in the reference"
    internal = {f.qualified_name for f in parse()[0] if not f.is_client}
    assert not internal & set(granted)


def test_every_grant_is_attached_to_its_function() -> None:
    functions, grants = parse()
    attached = {f.grant for f in functions if f.grant is not None}
    assert [g.signature for g in grants if g not in attached] == []
    assert {f.qualified_name for f in functions if f.is_client} == set(_granted_in_files())


def test_probe_is_parsed() -> None:
    functions, grants = parse([PROBE])
    by_name = {f.name: f for f in functions}
    assert len(grants) == 4
    defaults = by_name["lltest_ref_defaults"]
    assert [(p.name, p.type, p.default) for p in defaults.params] == [
        ("p_a", "integer", None),
        ("p_lease", "interval", "'5 minutes'"),
        ("p_fields", "jsonb", "'{}'::jsonb"),
        ("p_amount", "numeric(14, 6)", "round(1.5, 0)"),
        ("p_quote", "text", "'it''s, (really); -- not a comment'"),
        ("p_list", "text[]", "ARRAY['a,b', 'c)']"),
        ("p_nothing", "uuid", "NULL"),
        ("p_dollar", "text", "$q$a, 'b'$q$"),
        ("p_flag", "boolean", "true"),
    ]
    assert defaults.setting == {
        "search_path": "pg_catalog, pg_temp",
        "lock_timeout": "5s",
        "statement_timeout": "30s",
    }
    assert defaults.grant is not None
    assert defaults.grant.end_user
    assert defaults.returns_envelope
    assert defaults.comment[0].startswith("lltest_ref_defaults: defaults")  # the banner is cut off
    outs = by_name["lltest_ref_outs"]
    assert [(p.mode, p.name, p.type) for p in outs.params] == [
        ("IN", "p_in", "text"),
        ("OUT", "state", "text"),
        ("INOUT", "p_count", "integer"),
        ("OUT", "Quoted Name", "boolean"),
    ]
    assert (outs.returns, outs.result, outs.comment) == (None, "record", ())
    assert outs.grant is not None
    assert not outs.grant.end_user
    rows = by_name["lltest_ref_rows"]
    assert [(c.name, c.type) for c in rows.table] == [
        ("id", "uuid"),
        ("amount", "numeric(14, 6)"),
        ("rows", "bigint"),
    ]
    assert rows.language == "sql"
    setof = by_name["lltest_ref_setof"]
    assert (setof.setof, setof.returns, setof.language, setof.grant) == (True, "integer", "sql", None)
    atomic = by_name["lltest_ref_atomic"]
    assert atomic.returns == "integer"
    assert atomic.body.startswith("BEGIN ATOMIC")
    assert atomic.grant is not None
    variadic = by_name["lltest_ref_variadic"]
    assert [(p.mode, p.type) for p in variadic.params] == [
        ("IN", "timestamp with time zone"),
        ("VARIADIC", "text[]"),
    ]
    assert variadic.returns == "double precision"


def test_probe_is_rendered() -> None:
    doc = render_reference([PROBE])
    sections = _sections(doc)
    assert sorted(sections) == [
        "public.lltest_ref_atomic",
        "public.lltest_ref_defaults",
        "public.lltest_ref_outs",
        "public.lltest_ref_rows",
    ]
    defaults = sections["public.lltest_ref_defaults"]
    assert "Defined in [`src/leadledger/db/sql/99_reference_probe.sql`]" in defaults
    assert "Defaults that hold commas, parentheses and quotes." in defaults
    assert "**Guarantees:** none, it is a probe; \\<field> and \\* stay visible." in defaults
    assert "**Items:** a second paragraph." in defaults
    assert "| `p_quote` | `text` | `'it''s, (really); -- not a comment'` |" in defaults
    assert "| `p_a` | `integer` | required |" in defaults
    assert "envelope: `{success: true, a, semicolon, nested}`" in defaults
    assert "service and end users" in defaults
    assert "`lock_timeout` 5s, `statement_timeout` 30s" in defaults
    assert "supabase.rpc('lltest_ref_defaults', { p_a: a })" in defaults
    outs = sections["public.lltest_ref_outs"]
    assert "No header comment" in outs
    assert "| `Quoted Name` | `boolean` |" in outs
    assert "| `p_count` | `integer` |" in outs  # an INOUT argument is a column of the result too
    assert "SELECT * FROM public.lltest_ref_rows();" in sections["public.lltest_ref_rows"]
    appendix = doc.split("## Appendix")[1]
    assert "`public.lltest_ref_setof`" in appendix
    assert "`public.lltest_ref_variadic`" in appendix


# ---------------------------------------------------------------------------------------------
# The parser against PostgreSQL
# ---------------------------------------------------------------------------------------------


def _one(conn: Conn, query: str, *params: Any) -> Any:
    row = conn.execute(query.encode(), params or None).fetchone()
    assert row is not None
    return row[0]


def _type(conn: Conn, type_: str) -> str:
    """The type as PostgreSQL prints it in a signature (format_type_be, like regtype)."""
    return str(_one(conn, "SELECT %s::regtype::text", type_))


def _ident(conn: Conn, name: str) -> str:
    return str(_one(conn, "SELECT quote_ident(%s)", name))


def _differences(conn: Conn, f: SqlFunction) -> list[str]:
    """Where what the parser read of ``f`` differs from the function in the database."""
    oid = _one(conn, "SELECT to_regprocedure(%s)::oid", f.signature)
    if oid is None:
        return [f"{f.signature}: no such function in the database"]
    problems: list[str] = []
    args: list[str] = []
    for n, p in enumerate(f.params, 1):
        mode = "" if p.mode == "IN" else f"{p.mode} "
        name = f"{_ident(conn, p.name)} " if p.name else ""
        arg = f"{mode}{name}{_type(conn, p.type)}"
        if p.default is not None:
            pg_default = _one(conn, "SELECT pg_get_function_arg_default(%s, %s)", oid, n)
            arg += f" DEFAULT {pg_default}"
            # Equal values of the argument's type (PostgreSQL stores the default coerced to it).
            same = _one(
                conn,
                f"SELECT (({p.default})::{p.type})::text"
                f" IS NOT DISTINCT FROM (({pg_default})::{p.type})::text",
            )
            if not same:
                problems.append(
                    f"{f.signature}: default of {p.name} is {p.default}, PostgreSQL: {pg_default}"
                )
        args.append(arg)
    if f.table:
        columns = ", ".join(f"{_ident(conn, c.name)} {_type(conn, c.type)}" for c in f.table)
        result = f"TABLE({columns})"
    elif f.returns is not None:
        result = ("SETOF " if f.setof else "") + _type(conn, f.returns)
    else:
        outs = [p for p in f.params if p.is_output]
        result = _type(conn, outs[0].type) if len(outs) == 1 else "record"
    pg_args, pg_result, config, definer, language = (
        conn.execute(
            """SELECT pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), p.proconfig,
                  p.prosecdef, l.lanname
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = %s""",
            (oid,),
        ).fetchone()
        or (None,) * 5
    )
    if ", ".join(args) != pg_args:
        problems.append(f"{f.signature}: arguments parsed as\n  {', '.join(args)}\nPostgreSQL:\n  {pg_args}")
    if result != pg_result:
        problems.append(f"{f.signature}: result parsed as {result}, PostgreSQL: {pg_result}")
    pg_settings = dict(item.split("=", 1) for item in config or [])
    if f.setting != pg_settings:
        problems.append(f"{f.signature}: SET clauses parsed as {f.setting}, PostgreSQL: {pg_settings}")
    if (f.security_definer, f.language) != (definer, language):
        problems.append(
            f"{f.signature}: parsed {(f.security_definer, f.language)}, PostgreSQL {(definer, language)}"
        )
    return problems


def test_parsed_functions_match_postgresql(conn: Conn) -> None:
    """Every function of the current-state files (documented or internal) against the freshly
    migrated database: names, modes, types and defaults of the arguments, the result, SET."""
    functions, _ = parse()
    assert any(f.is_client for f in functions)
    problems = [problem for f in functions for problem in _differences(conn, f)]
    assert problems == [], "\n".join(problems)


def test_documented_functions_are_those_granted_to_the_service(conn: Conn) -> None:
    """In the database: the functions of public and etl_api that leadledger_service may execute
    by an explicit grant are exactly the documented ones."""
    granted = {
        row[0]
        for row in conn.execute(
            """SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname IN ('public', 'etl_api')
                  AND EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                               WHERE a.grantee = 'leadledger_service'::regrole
                                 AND a.privilege_type = 'EXECUTE')"""
        )
    }
    documented = {
        _one(conn, "SELECT to_regprocedure(%s)::regprocedure::text", f.signature)
        for f in parse()[0]
        if f.is_client
    }
    assert documented == granted


def test_probe_matches_postgresql(conn: Conn) -> None:
    """The edge cases of PROBE, created for real (and rolled back)."""
    with conn.transaction(force_rollback=True):
        conn.execute(PROBE.sql.encode())
        functions, _ = parse([PROBE])
        assert len(functions) == 6
        problems = [problem for f in functions for problem in _differences(conn, f)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("argv", [["--check"], []])
def test_module_entry_point(tmp_path: Path, argv: list[str]) -> None:
    from leadledger.db.reference import main

    target = tmp_path / "sql-reference.md"
    assert main([*argv, "--output", str(target)]) == (1 if argv else 0)
    if not argv:
        assert target.read_text(encoding="utf-8") == render_reference()
        assert main(["--check", "--output", str(target)]) == 0
        target.write_text("stale\n", encoding="utf-8")
        assert main(["--check", "--output", str(target)]) == 1
