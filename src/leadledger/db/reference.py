"""The SQL reference, ``docs/sql-reference.md``: what a Supabase ``rpc()`` caller (or any client)
reads about the stored functions, generated from the current-state SQL files.

The source of truth is the text of ``<domain>/sql/NN_*.sql`` (:func:`discover_current`), parsed
without a database (CI runs the staleness check in lint): every ``CREATE OR REPLACE FUNCTION``
with the comment block right above it, and every ``leadledger.secure_function(...)`` grant.
The parser is a small tokenizer (quotes, dollar quotes, comments) plus a walk over the tokens of
each statement; ``tests/db/test_reference.py`` holds what it reads to what PostgreSQL reports
(``pg_get_function_arguments`` / ``pg_get_function_result``) for every function.

Write the file with ``leadledger docs sql-reference`` or ``python -m leadledger.db.reference``;
``--check`` exits 1 when the file on disk is stale.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from leadledger.db.migrations import CurrentFile, discover_current

#: Where the reference lives, relative to the project root.
REFERENCE_PATH = "docs/sql-reference.md"
#: The command that regenerates it (named in the file and in the staleness messages).
REGENERATE = "leadledger docs sql-reference"
#: Schemas whose functions clients call: PostgREST exposes ``public``; ``etl_api`` is the ETL
#: engine's, called over a database connection.
CLIENT_SCHEMAS = ("public", "etl_api")
#: Schemas exposed by PostgREST (Supabase ``rpc()``).
REST_SCHEMAS = ("public",)

# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?\$(?P=tag)\$)
    | (?P<string>[Ee]'(?:[^'\\]|\\.|'')*'|(?:[BbXxNn]|[Uu]&)?'(?:[^']|'')*')
    | (?P<ident>"(?:[^"]|"")*")
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?)
    | (?P<word>[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)
    | (?P<op>::|=>|:=|<>|!=|<=|>=|\$\d+|.)
    """,
    re.X | re.S,
)


@dataclass(frozen=True)
class Token:
    """One significant token (comments and white space dropped; ``gap`` remembers them)."""

    kind: str  # word, ident, string, dollar, number, op, eof
    text: str
    start: int
    gap: bool  # white space or a comment separates it from the previous token

    @property
    def upper(self) -> str:
        """The keyword this token is, if it is an unquoted word ("" otherwise)."""
        return self.text.upper() if self.kind == "word" else ""


_EOF = Token("eof", "", -1, False)


def tokenize(sql: str) -> list[Token]:
    """The significant tokens of ``sql``: quoted strings, dollar-quoted bodies and quoted
    identifiers are one token each, so nothing inside them is ever read as SQL."""
    tokens: list[Token] = []
    gap = False
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup or "op"
        if kind in ("space", "comment"):
            gap = True
            continue
        tokens.append(Token(kind, m.group(), m.start(), gap))
        gap = False
    return tokens


def _text(tokens: Sequence[Token]) -> str:
    """The tokens as written, comments removed and white space collapsed to one space."""
    return "".join((" " if t.gap and i else "") + t.text for i, t in enumerate(tokens))


def _at(tokens: Sequence[Token], i: int) -> Token:
    return tokens[i] if 0 <= i < len(tokens) else _EOF


def _nesting(token: Token) -> int:
    """+1 for an opening parenthesis or bracket, -1 for a closing one, else 0."""
    return {"(": 1, "[": 1, ")": -1, "]": -1}.get(token.text, 0) if token.kind == "op" else 0


def _closing(tokens: Sequence[Token], i: int) -> int:
    """Index of the parenthesis that closes the one at ``i`` (the last index if unbalanced)."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += _nesting(tokens[j])
        if depth == 0:
            return j
    return len(tokens) - 1


def _split_commas(tokens: Sequence[Token]) -> list[list[Token]]:
    """Split at the commas outside parentheses and brackets (``numeric(14, 6)`` stays whole)."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        depth += _nesting(t)
        if depth == 0 and t.kind == "op" and t.text == ",":
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if p]


def _unquote(token: Token) -> str:
    if token.kind == "ident":
        return token.text[1:-1].replace('""', '"')
    if token.kind == "string" and token.text.startswith("'"):
        return token.text[1:-1].replace("''", "'")
    if token.kind == "dollar":
        tag = token.text[: token.text.index("$", 1) + 1]
        return token.text[len(tag) : -len(tag)]
    return token.text if token.kind != "word" else token.text.lower()


def _statements(tokens: Sequence[Token]) -> Iterator[list[Token]]:
    """The statements of a file (split at top-level semicolons; a ``BEGIN ATOMIC ... END`` body
    of a SQL-standard function keeps its own semicolons)."""
    current: list[Token] = []
    atomic = 0
    for t in tokens:
        opens_atomic = t.upper == "ATOMIC" and bool(current) and current[-1].upper == "BEGIN"
        if opens_atomic or (atomic and t.upper == "CASE"):
            atomic += 1
        elif atomic and t.upper == "END":
            atomic -= 1
        if t.kind == "op" and t.text == ";" and not atomic:
            if current:
                yield current
            current = []
        else:
            current.append(t)
    if current:
        yield current


# ---------------------------------------------------------------------------------------------
# Functions and grants
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One declared argument (``mode`` is IN, OUT, INOUT or VARIADIC)."""

    name: str | None
    type: str
    mode: str = "IN"
    default: str | None = None

    @property
    def is_input(self) -> bool:
        return self.mode != "OUT"

    @property
    def is_output(self) -> bool:
        return self.mode in ("OUT", "INOUT")


@dataclass(frozen=True)
class Column:
    """One column of ``RETURNS TABLE (...)``."""

    name: str
    type: str


@dataclass(frozen=True)
class Grant:
    """One ``leadledger.secure_function('<signature>'[, true])`` call."""

    signature: str
    end_user: bool
    path: str


@dataclass(frozen=True)
class SqlFunction:
    """One ``CREATE OR REPLACE FUNCTION`` of a current-state file, with its header comment."""

    schema: str
    name: str
    params: tuple[Param, ...]
    returns: str | None  # as written; None when the OUT parameters make the result
    setof: bool
    table: tuple[Column, ...]  # the columns of RETURNS TABLE (...)
    language: str | None
    security_definer: bool
    settings: tuple[tuple[str, str], ...]  # SET clauses: (name, value as written)
    comment: tuple[str, ...]  # the header comment's lines, "-- " removed
    package: str
    file: str
    line: int
    body: str
    grant: Grant | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def source_path(self) -> str:
        """The file, relative to the project root: ``src/leadledger/<domain>/sql/NN_x.sql``."""
        return f"src/{self.package.replace('.', '/')}/sql/{self.file}"

    @property
    def domain(self) -> str:
        return self.package.rsplit(".", 1)[-1]

    @property
    def input_types(self) -> tuple[str, ...]:
        return tuple(p.type for p in self.params if p.is_input)

    @property
    def signature(self) -> str:
        """``schema.name(type, ...)``: the function's identity, as ``regprocedure`` reads it."""
        return f"{self.qualified_name}({', '.join(self.input_types)})"

    @property
    def result_columns(self) -> tuple[Column, ...]:
        """The columns of the rows it returns: RETURNS TABLE, or several OUT parameters."""
        if self.table:
            return self.table
        outs = [p for p in self.params if p.is_output]
        if len(outs) > 1 or (outs and (self.returns or "record").lower() == "record"):
            return tuple(Column(p.name or "?", p.type) for p in outs)
        return ()

    @property
    def result(self) -> str:
        """The result as PostgreSQL names it: a type, ``SETOF type``, ``TABLE(...)`` or ``record``."""
        if self.table:
            return f"TABLE({', '.join(f'{c.name} {c.type}' for c in self.table)})"
        if self.returns is not None:
            return f"SETOF {self.returns}" if self.setof else self.returns
        outs = [p for p in self.params if p.is_output]
        return outs[0].type if len(outs) == 1 else "record"

    @property
    def setting(self) -> dict[str, str]:
        """SET clause values, unquoted: ``{"lock_timeout": "5s", ...}``."""
        return {name: _unquote_value(value) for name, value in self.settings}

    @property
    def is_client(self) -> bool:
        """Callable by clients: in a client schema and granted through secure_function."""
        return self.schema in CLIENT_SCHEMAS and self.grant is not None

    @property
    def returns_envelope(self) -> bool:
        """Returns the JSON envelope (json/jsonb built by leadledger.ok_envelope/error_envelope)."""
        return (
            not self.setof
            and (self.returns or "").lower() in ("json", "jsonb")
            and re.search(r"leadledger\s*\.\s*(ok|error)_envelope\s*\(", self.body, re.I) is not None
        )


def _unquote_value(value: str) -> str:
    """A SET value as PostgreSQL keeps it: ``'5s'`` -> ``5s``, ``'a', b`` -> ``a, b``."""
    items = _split_commas(tokenize(value))
    return ", ".join(_unquote(i[0]) if len(i) == 1 and i[0].kind == "string" else _text(i) for i in items)


_MODES = ("IN", "OUT", "INOUT", "VARIADIC")
# Types of more than one word: an argument starting with one of these has no name.
_MULTIWORD_TYPES = ("DOUBLE", "CHARACTER", "NATIONAL", "BIT", "TIMESTAMP", "TIME")
# Words that start a clause after the argument list (where a RETURNS type or a SET value ends).
_CLAUSES = frozenset(
    {
        *("RETURNS", "LANGUAGE", "TRANSFORM", "WINDOW", "IMMUTABLE", "STABLE", "VOLATILE", "NOT"),
        *("LEAKPROOF", "CALLED", "STRICT", "SECURITY", "EXTERNAL", "PARALLEL", "COST", "ROWS"),
        *("SUPPORT", "SET", "AS", "RETURN", "BEGIN"),
    }
)


def _parse_param(tokens: list[Token]) -> Param:
    mode = "IN"
    if len(tokens) > 1 and tokens[0].upper in _MODES:
        mode, tokens = tokens[0].upper, tokens[1:]
    default = None
    for i, t in enumerate(tokens):
        if t.upper == "DEFAULT" or (t.kind == "op" and t.text == "="):
            default, tokens = _text(tokens[i + 1 :]), tokens[:i]
            break
    named = (
        len(tokens) > 1
        and tokens[0].kind in ("word", "ident")
        and tokens[0].upper not in _MULTIWORD_TYPES
        and tokens[1].text not in (".", "(", "[", "%")
    )
    if named:
        return Param(_unquote(tokens[0]), _text(tokens[1:]), mode, default)
    return Param(None, _text(tokens), mode, default)


def _until_clause(tokens: Sequence[Token], i: int) -> int:
    """The index of the next clause keyword outside parentheses (or the end)."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += _nesting(tokens[j])
        if depth == 0 and tokens[j].upper in _CLAUSES:
            return j
    return len(tokens)


def _qualified_name(tokens: Sequence[Token], i: int) -> tuple[list[str], int]:
    """``a.b.c`` starting at ``i``: its parts and the index after it."""
    parts = [_unquote(_at(tokens, i))]
    i += 1
    while _at(tokens, i).text == "." and _at(tokens, i + 1).kind in ("word", "ident"):
        parts.append(_unquote(tokens[i + 1]))
        i += 2
    return parts, i


def _parse_function(stmt: list[Token], file: CurrentFile, header: tuple[str, ...], line: int) -> SqlFunction:
    i = 1
    if stmt[i].upper == "OR":  # OR REPLACE
        i += 2
    parts, i = _qualified_name(stmt, i + 1)  # after FUNCTION
    schema, name = (parts[-2], parts[-1]) if len(parts) > 1 else ("public", parts[0])
    close = _closing(stmt, i)
    params = tuple(_parse_param(p) for p in _split_commas(stmt[i + 1 : close]))
    returns: str | None = None
    setof = False
    table: tuple[Column, ...] = ()
    language: str | None = None
    definer = False
    settings: list[tuple[str, str]] = []
    body = ""
    i = close + 1
    while i < len(stmt):
        word = stmt[i].upper
        if word == "RETURNS" and _at(stmt, i + 1).upper == "NULL":  # RETURNS NULL ON NULL INPUT
            i += 2
        elif word == "RETURNS" and _at(stmt, i + 1).upper == "TABLE" and _at(stmt, i + 2).text == "(":
            end = _closing(stmt, i + 2)
            table = tuple(
                Column(_unquote(c[0]), _text(c[1:])) for c in _split_commas(stmt[i + 3 : end]) if len(c) > 1
            )
            i = end + 1
        elif word == "RETURNS":
            i += 1
            if _at(stmt, i).upper == "SETOF":
                setof, i = True, i + 1
            end = _until_clause(stmt, i)
            returns, i = _text(stmt[i:end]), end
        elif word == "LANGUAGE":
            language, i = _unquote(_at(stmt, i + 1)).lower(), i + 2
        elif word == "SECURITY":
            definer, i = _at(stmt, i + 1).upper == "DEFINER", i + 2
        elif word == "SET":
            setting, j = _qualified_name(stmt, i + 1)
            if _at(stmt, j).upper == "FROM":  # SET x FROM CURRENT
                settings.append((".".join(setting), "FROM CURRENT"))
                i = j + 2
            else:
                end = _until_clause(stmt, j + 1)
                settings.append((".".join(setting), _text(stmt[j + 1 : end])))
                i = end
        elif word == "AS":
            body = _unquote(_at(stmt, i + 1))
            i += 4 if _at(stmt, i + 2).text == "," else 2  # AS 'obj_file', 'link_symbol'
        elif word == "RETURN" or (word == "BEGIN" and _at(stmt, i + 1).upper == "ATOMIC"):
            body = _text(stmt[i:])
            break
        else:
            i += 1
    return SqlFunction(
        schema=schema,
        name=name,
        params=params,
        returns=returns,
        setof=setof,
        table=table,
        language=language,
        security_definer=definer,
        settings=tuple(settings),
        comment=header,
        package=file.package,
        file=file.name,
        line=line,
        body=body,
    )


def _parse_grant(stmt: list[Token], file: CurrentFile) -> Grant | None:
    """``SELECT leadledger.secure_function('<signature>'[, true | p_end_user => true])``."""
    if [t.upper for t in stmt[:5]] != ["SELECT", "LEADLEDGER", "", "SECURE_FUNCTION", ""]:
        return None
    if stmt[2].text != "." or stmt[4].text != "(":
        return None
    values: dict[str, list[Token]] = {}
    for position, arg in enumerate(_split_commas(stmt[5 : _closing(stmt, 4)])):
        if len(arg) > 2 and arg[1].text == "=>":
            values[arg[0].text.lower()] = arg[2:]
        else:
            values[("p_function", "p_end_user")[min(position, 1)]] = arg
    function = values.get("p_function", [])
    if not function or function[0].kind != "string":
        return None
    end_user = _unquote(values.get("p_end_user", [_EOF])[0]).lower() in ("true", "t", "on", "yes", "1")
    return Grant(_unquote(function[0]), end_user, f"{file.package.rsplit('.', 1)[-1]}/sql/{file.name}")


def _header(lines: Sequence[str], line: int) -> tuple[str, ...]:
    """The comment block right above line ``line`` (1-based), after its last ``-- ----`` rule
    (a section banner is not the function's header)."""
    start = line - 1
    while start > 0 and lines[start - 1].lstrip().startswith("--"):
        start -= 1
    block = [re.sub(r"^\s*--\s?", "", text).rstrip() for text in lines[start : line - 1]]
    rules = [i for i, text in enumerate(block) if re.fullmatch(r"\s*-{3,}\s*", text)]
    return tuple(block[rules[-1] + 1 :] if rules else block)


def parse_file(file: CurrentFile) -> tuple[list[SqlFunction], list[Grant]]:
    """The functions (grants not yet attached) and the secure_function grants of one file."""
    lines = file.sql.splitlines()
    functions: list[SqlFunction] = []
    grants: list[Grant] = []
    for stmt in _statements(tokenize(file.sql)):
        words = [t.upper for t in stmt[:4]]
        if words[:2] == ["CREATE", "FUNCTION"] or words[:4] == ["CREATE", "OR", "REPLACE", "FUNCTION"]:
            line = file.sql.count("\n", 0, stmt[0].start) + 1
            functions.append(_parse_function(stmt, file, _header(lines, line), line))
        elif grant := _parse_grant(stmt, file):
            grants.append(grant)
    return functions, grants


_TYPE_ALIASES = {
    "varchar": "character varying",
    "char": "character",
    "bpchar": "character",
    "int": "integer",
    "int4": "integer",
    "int2": "smallint",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "float": "double precision",
    "bool": "boolean",
    "decimal": "numeric",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
    "varbit": "bit varying",
}


def normalize_type(type_: str) -> str:
    """A type name for comparison: lower case, no type modifier, no ``pg_catalog.``/``public.``,
    aliases spelled out (``varchar`` -> ``character varying``)."""
    text = re.sub(r"\s*\([^)]*\)", "", type_.lower().replace('"', ""))
    text = re.sub(r"\s+", " ", text).strip()
    arrays = ""
    while text.endswith("[]"):
        text, arrays = text[:-2].rstrip(), arrays + "[]"
    text = re.sub(r"^(pg_catalog|public)\.", "", text)
    return _TYPE_ALIASES.get(text, text) + arrays


def parse_signature(signature: str) -> tuple[str, tuple[str, ...]]:
    """``"public.f(uuid, varchar)"`` -> ``("public.f", ("uuid", "character varying"))``."""
    tokens = tokenize(signature)
    parts, i = _qualified_name(tokens, 0)
    name = ".".join(parts) if len(parts) > 1 else f"public.{parts[0]}"
    args = _split_commas(tokens[i + 1 : _closing(tokens, i)]) if _at(tokens, i).text == "(" else []
    return name.lower(), tuple(normalize_type(_text(a)) for a in args)


def parse(files: Sequence[CurrentFile] | None = None) -> tuple[list[SqlFunction], list[Grant]]:
    """Every function of the current-state files, in file order, each with its secure_function
    grant attached (when it has one), and every grant."""
    functions: list[SqlFunction] = []
    grants: list[Grant] = []
    for file in discover_current() if files is None else files:
        found, granted = parse_file(file)
        functions.extend(found)
        grants.extend(granted)
    by_identity = {
        (f.qualified_name.lower(), tuple(normalize_type(t) for t in f.input_types)): i
        for i, f in enumerate(functions)
    }
    for grant in grants:
        name, types = parse_signature(grant.signature)
        index = by_identity.get((name, types))
        if index is None:  # a spelling normalize_type does not know: fall back on a unique name
            same_name = [i for i, f in enumerate(functions) if f.qualified_name.lower() == name]
            index = same_name[0] if len(same_name) == 1 else None
        if index is not None:
            functions[index] = replace(functions[index], grant=grant)
    return functions, grants


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Escape what Markdown would swallow (``<field>`` as an HTML tag, ``*``), outside code spans."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(
        part if i % 2 else part.replace("\\", "\\\\").replace("<", "\\<").replace("*", "\\*")
        for i, part in enumerate(parts)
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    """``text`` as an inline code span (longer fences when it holds backticks)."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _strip_own_name(f: SqlFunction, lines: Sequence[str]) -> list[str]:
    """The header without a leading ``name:`` (or ``schema.name:``) of the function itself."""
    out = list(lines)
    while out and not out[0].strip():
        out.pop(0)
    if out:
        m = re.match(r"\s*(?:(\w+)\.)?(\w+):\s*", out[0])
        if m and m.group(2) == f.name and m.group(1) in (None, f.schema):
            rest = out[0][m.end() :]
            out[0] = rest[:1].upper() + rest[1:]
    return out


def paragraphs(f: SqlFunction) -> list[str]:
    """The header comment reflowed: a paragraph per blank comment line, per line that starts
    with a label (``Guarantees:``, ``Items:``, ...) and before every ``Guarantees:``."""
    paras: list[list[str]] = [[]]
    for text in _strip_own_name(f, f.comment):
        stripped = text.strip()
        if not stripped or (re.match(r"[A-Z][a-z]+:(\s|$)", stripped) and paras[-1]):
            paras.append([])
        if stripped:
            paras[-1].append(stripped)
    out: list[str] = []
    for para in paras:
        if para:
            out.extend(re.split(r"\s+(?=Guarantees:)", " ".join(para)))
    return out


def summary(f: SqlFunction, limit: int = 200) -> str:
    """The first sentence of the header, cut at a word near ``limit`` characters (for the index
    of internal functions)."""
    paras = paragraphs(f)
    if not paras:
        return ""
    m = re.match(r"(.+?[.!?])(?=\s+[A-Z(\"']|\s*$)", paras[0])
    sentence = m.group(1) if m else paras[0]
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0]
    if cut.count("`") % 2:  # do not leave a code span open
        cut = cut[: cut.rindex("`")].rstrip()
    return f"{cut} ..."


def _envelope_fields(f: SqlFunction, by_name: dict[str, SqlFunction]) -> list[str]:
    """The keys of the success envelope: those of ``leadledger.ok_envelope(jsonb_build_object(
    'key', ..., ...))`` in the body, or in the one leadledger helper the body hands over to."""
    tokens = tokenize(f.body)
    keys: list[str] = []
    for i, t in enumerate(tokens):
        if (
            t.upper == "OK_ENVELOPE"
            and _at(tokens, i + 1).text == "("
            and _at(tokens, i + 2).upper in ("JSONB_BUILD_OBJECT", "JSON_BUILD_OBJECT")
            and _at(tokens, i + 3).text == "("
        ):
            args = _split_commas(tokens[i + 4 : _closing(tokens, i + 3)])
            for arg in args[0::2]:
                if len(arg) == 1 and arg[0].kind == "string" and _unquote(arg[0]) not in keys:
                    keys.append(_unquote(arg[0]))
    if keys:
        return keys
    for i, t in enumerate(tokens):
        helper = by_name.get(f"leadledger.{_at(tokens, i + 2).text.lower()}")
        if t.upper == "LEADLEDGER" and _at(tokens, i + 1).text == "." and helper and helper is not f:
            found = _envelope_fields(helper, {})
            if found:
                return found
    return []


def _signature_block(f: SqlFunction) -> str:
    def param(p: Param) -> str:
        mode = f"{p.mode} " if p.mode != "IN" else ""
        default = f" DEFAULT {p.default}" if p.default is not None else ""
        return f"{mode}{p.name + ' ' if p.name else ''}{p.type}{default}"

    args = [param(p) for p in f.params]
    head = f"{f.qualified_name}({', '.join(args)})"
    if len(head) > 100:
        head = f"{f.qualified_name}(\n" + ",\n".join(f"    {a}" for a in args) + "\n)"
    if f.table:
        columns = [f"{c.name} {c.type}" for c in f.table]
        one_line = f"RETURNS TABLE ({', '.join(columns)})"
        if len(one_line) <= 100:
            return f"{head}\n{one_line}"
        return f"{head}\nRETURNS TABLE (\n" + ",\n".join(f"    {c}" for c in columns) + "\n)"
    if f.returns is not None:
        return f"{head}\nRETURNS {'SETOF ' if f.setof else ''}{f.returns}"
    return head


def _returns(f: SqlFunction, by_name: dict[str, SqlFunction]) -> list[str]:
    if f.returns_envelope:
        fields = _envelope_fields(f, by_name)
        ok = ", ".join(["success: true", *fields]) if fields else "success: true, ..."
        return [
            f"**Returns** `{f.returns}`: envelope: `{{{ok}}}` / error envelope "
            "`{success: false, error, error_code, error_detail, retry_recommended}`.",
        ]
    columns = f.result_columns
    if columns:
        if f.table:
            what = "rows (`RETURNS TABLE`)"
        elif f.setof:
            what = "rows (`SETOF`, the columns of its `OUT` parameters)"
        else:
            what = "one row (its `OUT` parameters)"
        lines = [f"**Returns** {what}, no envelope:", "", "| column | type |", "| --- | --- |"]
        lines += [f"| `{c.name}` | `{_cell(c.type)}` |" for c in columns]
        return lines
    if f.setof:
        return [f"**Returns** a set of `{f.returns}` (`SETOF`), no envelope."]
    return [f"**Returns** `{f.result}`, no envelope (errors are raised)."]


def _settings(f: SqlFunction) -> str:
    values = f.setting
    parts = []
    for name in ("lock_timeout", "statement_timeout"):
        value = values.get(name)
        if value is None:
            parts.append(f"`{name}` not set")
        else:
            parts.append(f"`{name}` {value}" + (" (none)" if value in ("0", "0s") else ""))
    parts += [
        f"`{name}` {value}"
        for name, value in values.items()
        if name not in ("lock_timeout", "statement_timeout", "search_path")
    ]
    return ", ".join(parts)


def _camel(name: str) -> str:
    words = [w for w in re.sub(r"^p_", "", name).split("_") if w]
    return (words[0] + "".join(w.title() for w in words[1:])) if words else "value"


def _example(f: SqlFunction) -> list[str]:
    required = [p for p in f.params if p.is_input and p.default is None and p.name]
    lines: list[str] = []
    if f.schema in REST_SCHEMAS:
        args = ", ".join(f"{p.name}: {_camel(p.name or '')}" for p in required)
        call = f"supabase.rpc('{f.name}'" + (f", {{ {args} }})" if args else ")")
        lines += ["```js", f"const {{ data, error }} = await {call}", "```", ""]
    args = ", ".join(f"{p.name} => ${n}" for n, p in enumerate(required, 1))
    select = "SELECT * FROM" if f.table or f.setof or f.result_columns else "SELECT"
    lines += ["```sql", f"{select} {f.qualified_name}({args});", "```"]
    return lines


def _function_section(f: SqlFunction, by_name: dict[str, SqlFunction]) -> list[str]:
    assert f.grant is not None
    out = [f"### `{f.qualified_name}`", ""]
    out += [f"Defined in [`{f.source_path}`](../{f.source_path}).", ""]
    out += ["```sql", _signature_block(f), "```", ""]
    paras = paragraphs(f)
    if not paras:
        out += ["*No header comment in the SQL file.*", ""]
    for para in paras:
        out += [re.sub(r"^([A-Z][a-z]+):", r"**\1:**", _md(para)), ""]
    inputs = [p for p in f.params if p.is_input]
    if inputs:
        out += ["**Parameters**", "", "| name | type | default |", "| --- | --- | --- |"]
        for p in inputs:
            name = p.name or "(unnamed)"
            mode = f" ({p.mode})" if p.mode != "IN" else ""
            default = _code(_cell(p.default)) if p.default is not None else "required"
            out.append(f"| `{name}`{mode} | `{_cell(p.type)}` | {default} |")
        out.append("")
    else:
        out += ["**Parameters:** none.", ""]
    out += [*_returns(f, by_name), ""]
    if f.grant.end_user:
        who = (
            "service and end users: `leadledger_service` and Supabase `authenticated` "
            "(the function checks the caller's tenant from the JWT)"
        )
    else:
        who = "service only: `leadledger_service` (Supabase `service_role`)"
    rest = "" if f.schema in REST_SCHEMAS else "; not exposed by PostgREST: call it over a connection"
    out += [f"- **Who may call:** {who}{rest}."]
    out += [f"- **Settings:** {_settings(f)}."]
    language = f"`{f.language}`" if f.language else "not stated"
    out += [f"- **Language:** {language}{', `SECURITY DEFINER`' if f.security_definer else ''}.", ""]
    out += ["**Example**", "", *_example(f), ""]
    return out


def _domain_titles(files: Sequence[CurrentFile]) -> dict[str, str]:
    """A title per domain from the first line of its first file (``-- <Title>, current state: ...``)."""
    titles: dict[str, str] = {}
    for file in files:
        domain = file.package.rsplit(".", 1)[-1]
        m = re.match(r"--\s*(.+?), current state", file.sql)
        if domain not in titles and m:
            titles[domain] = m.group(1)[:1].upper() + m.group(1)[1:]
    return titles


_INTRO = f"""\
# SQL reference

<!-- Generated by `{REGENERATE}` (src/leadledger/db/reference.py). Do not edit. -->

> **Generated file: do not edit.** It is built from the current-state SQL files
> (`src/leadledger/<domain>/sql/NN_*.sql`: each function's header comment, signature, `SET`
> clauses and `leadledger.secure_function` grant) by `.venv/bin/{REGENERATE}` (or
> `python -m leadledger.db.reference`). Change the SQL, then regenerate; `make lint` and
> `tests/db/test_reference.py` fail when this file is stale.

The stored functions a client may call: those in `public` (exposed by PostgREST, so a Supabase
client calls them with `supabase.rpc('<name>', {{ p_arg: value }})`) and in `etl_api` (the ETL
engine; PostgREST does not expose it: call it over a database connection, as the Python client
does). Arguments are passed by name and the names are part of the contract. The rules every
function follows (validation, locking, timeouts, privileges) are in
[docs/sql-conventions.md](sql-conventions.md).

## The envelope

A function that returns `jsonb` (or `json`) returns an envelope and does not raise for the
errors it handles:

- success: `{{"success": true, ...operation fields}}`;
- failure: `{{"success": false, "error", "error_code", "error_detail", "retry_recommended"}}`:
  `error` is the message for people (the function's own message for bad input, 22023 `"<field>:
  <problem>"`, and for its own `RAISE`; a generic text for engine errors), `error_code` the
  SQLSTATE, `error_detail` the original message for logs, and `retry_recommended` is true for
  conflicts (40P01, 40001, 55P03: retry the call). A failure envelope means nothing was written.

Functions that return rows or a scalar have no envelope: they raise (bad input is 22023
`"<field>: <problem>"`). A `statement_timeout` (57014) is never an envelope: it reaches the caller
as an error.

**Who may call:** `leadledger.secure_function` revokes `EXECUTE` on every function here from
`PUBLIC`, `anon` and `authenticated` and grants it to `leadledger_service` (Supabase's
`service_role` is a member). "Service and end users" functions are also granted to Supabase's
`authenticated` role: they check the caller's tenant from `request.jwt.claims`.

**Settings** are the function's own `SET` clauses: `lock_timeout` bounds every lock wait inside
it (55P03, a retryable envelope), `statement_timeout` is what PostgREST applies to the request.
"""


def render_reference(files: Sequence[CurrentFile] | None = None) -> str:
    """The Markdown of docs/sql-reference.md, from the current-state files (all by default)."""
    files = discover_current() if files is None else list(files)
    functions, _grants = parse(files)
    by_name = {f.qualified_name: f for f in functions}
    titles = _domain_titles(files)
    clients = [f for f in functions if f.is_client]
    domains = list(dict.fromkeys(f.domain for f in clients))

    out = [_INTRO, "## Functions", ""]
    out += ["| function | domain | returns | who may call |", "| --- | --- | --- | --- |"]
    for f in clients:
        assert f.grant is not None
        if f.returns_envelope:
            returns = "envelope"
        elif f.table or f.setof:
            returns = "rows"
        elif f.result_columns:
            returns = "one row"
        else:
            returns = f"`{_cell(f.result)}`"
        who = "service, end users" if f.grant.end_user else "service"
        link = f"[`{f.qualified_name}`](#{_anchor(f.qualified_name)})"
        out.append(f"| {link} | {f.domain} | {returns} | {who} |")
    out.append("")
    for domain in domains:
        out += [f"## {titles.get(domain, domain.title())} (`{domain}`)", ""]
        for f in clients:
            if f.domain == domain:
                out += _function_section(f, by_name)

    internal = [f for f in functions if not f.is_client]
    if internal:
        out += [
            "## Appendix: internal functions",
            "",
            "Helpers, trigger functions and other functions no client may call (not granted through "
            "`leadledger.secure_function`), for readers of the SQL.",
            "",
            "| function | file | what it does |",
            "| --- | --- | --- |",
        ]
        for f in internal:
            what = _md(summary(f)) or "*(no header comment)*"
            out.append(f"| `{f.qualified_name}` | `{f.domain}/sql/{f.file}` | {_cell(what)} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------
# Writing and checking the file
# ---------------------------------------------------------------------------------------------


def default_path() -> Path:
    """docs/sql-reference.md of the source checkout this module runs from (an editable
    install), else of the current directory."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and (root / "src" / "leadledger").is_dir():
        return root / REFERENCE_PATH
    return Path.cwd() / REFERENCE_PATH


def check(path: Path, max_diff_lines: int = 60) -> str | None:
    """None when ``path`` holds the current reference, else what is wrong: the file is missing,
    or stale, with the start of a unified diff (on disk -> generated)."""
    expected = render_reference()
    if not path.is_file():
        return f"{path} is missing: run `.venv/bin/{REGENERATE}`"
    actual = path.read_text(encoding="utf-8")
    if actual == expected:
        return None
    diff = list(
        difflib.unified_diff(
            actual.splitlines(), expected.splitlines(), f"{path} (on disk)", "generated", lineterm="", n=1
        )
    )
    more = [f"... ({len(diff) - max_diff_lines} more diff lines)"] if len(diff) > max_diff_lines else []
    return "\n".join([f"{path} is stale: run `.venv/bin/{REGENERATE}`", *diff[:max_diff_lines], *more])


def write(path: Path) -> bool:
    """Write the reference to ``path``; True when that changed the file."""
    text = render_reference()
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m leadledger.db.reference [--check] [--output PATH]``."""
    parser = argparse.ArgumentParser(
        prog="python -m leadledger.db.reference",
        description=f"Write {REFERENCE_PATH} from the current-state SQL files.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    parser.add_argument("--output", type=Path, default=None, help=f"default: {REFERENCE_PATH}")
    args = parser.parse_args(argv)
    path: Path = args.output or default_path()
    if args.check:
        problem = check(path)
        if problem is None:
            sys.stdout.write(f"{path} is up to date\n")
            return 0
        sys.stderr.write(f"{problem}\n")
        return 1
    changed = write(path)
    sys.stdout.write(f"{'wrote' if changed else 'unchanged:'} {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
