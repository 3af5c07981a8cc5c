#!/usr/bin/env python3
"""Generate leadledger's sync modules from their async originals (psycopg's way).

Every ``src/leadledger/**/<name>_async.py`` is an original; this script writes ``<name>_sync.py``
beside it by transforming its syntax tree:

- ``async def`` -> ``def``, ``async with`` -> ``with``, ``async for`` -> ``for`` (comprehensions
  too), ``await x`` -> ``x``;
- ``await anyio.to_thread.run_sync(f, *args)`` -> ``f(*args)``: the async side keeps a blocking
  call off the event loop, the sync side just makes it;
- each name of ``NAMES`` (``AsyncDatabase`` -> ``Database``, ``__aenter__`` -> ``__enter__``, ...)
  wherever it stands: names, attributes, imports, definitions, docstrings, strings, comments;
- an import from another ``*_async`` module -> from its ``*_sync`` twin.

``ast.unparse`` drops comments and blank lines, so they travel through the transformation as
placeholder statements and come back; a comment it could not put back (after code, inside
brackets, just before ``else``/``except``) is refused rather than lost. The output gets the DO NOT
CHANGE header, ruff sorts its imports and removes those only the async side used, and ruff
formats it. A name that still says "async" in the result is refused: map it in ``NAMES``.

Usage: ``python tools/async_to_sync.py`` writes every generated file that differs;
``--check`` writes nothing and exits 1 listing the stale ones.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import subprocess
import sys
import tokenize
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "leadledger"
ASYNC_MODULE = "_async"
SYNC_MODULE = "_sync"

#: Async name -> sync name, applied to whole identifiers wherever they occur.
NAMES: dict[str, str] = {
    "AsyncCaller": "SyncCaller",
    "AsyncCampaignsClient": "CampaignsClient",
    "AsyncClientCursor": "ClientCursor",
    "AsyncConnection": "Connection",
    "AsyncConnectionPool": "ConnectionPool",
    "AsyncDatabase": "Database",
    "AsyncEtlClient": "EtlClient",
    "AsyncOrgsClient": "OrgsClient",
    "AsyncIterator": "Iterator",
    "AsyncLeadsClient": "LeadsClient",
    "AsyncRetrying": "Retrying",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "make_async_pool": "make_pool",
}

#: The calls that run a blocking function in a worker thread: ``await run_sync(f, *args)``.
RUN_SYNC = frozenset({"anyio.to_thread.run_sync", "to_thread.run_sync"})

HEADER = (
    "# WARNING: this file is generated from {source} by tools/async_to_sync.py.\n"
    "# DO NOT CHANGE! Change the original file instead.\n"
)
GENERATED = HEADER.split("{source}")[0]

_NAME = re.compile(r"\b(" + "|".join(map(re.escape, NAMES)) + r")\b")
_ASYNC_WORD = re.compile("async", re.IGNORECASE)
_LAYOUT = "__async_to_sync_layout__"
_LAYOUT_LINE = re.compile(rf"^([ \t]*){_LAYOUT}\((.*)\)\n+", re.MULTILINE)
_CONTINUES_BLOCK = re.compile(r"\s*(else|elif|except|finally|case)\b")


class GenerationError(Exception):
    """The original cannot be turned into a sync module as it is written."""


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob(f"*{ASYNC_MODULE}.py"))


def target_of(source: Path) -> Path:
    return source.with_name(source.stem.removesuffix(ASYNC_MODULE) + SYNC_MODULE + ".py")


def is_generated(path: Path) -> bool:
    with path.open(encoding="utf-8") as file:
        return file.readline().startswith(GENERATED)


def rename(name: str) -> str:
    return _NAME.sub(lambda m: NAMES[m[0]], name)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


class AsyncToSync(ast.NodeTransformer):
    """The syntax-tree half of the generator: async constructs and names to their sync forms."""

    def __init__(self, where: str) -> None:
        self.where = where

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        sync = ast.FunctionDef(**{field: getattr(node, field) for field in node._fields})
        return self.visit_FunctionDef(ast.copy_location(sync, node))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = rename(node.name)
        return self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = rename(node.name)
        return self.generic_visit(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        sync = ast.With(**{field: getattr(node, field) for field in node._fields})
        return self.generic_visit(ast.copy_location(sync, node))

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        sync = ast.For(**{field: getattr(node, field) for field in node._fields})
        return self.generic_visit(ast.copy_location(sync, node))

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        node.is_async = 0
        return self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> ast.AST:
        value = node.value
        if isinstance(value, ast.Call) and _dotted(value.func) in RUN_SYNC:
            if value.keywords or not value.args:
                raise GenerationError(
                    f"{self.where}:{node.lineno}: run_sync(f, *args) without keywords is the one "
                    "form converted"
                )
            value = ast.copy_location(ast.Call(func=value.args[0], args=value.args[1:], keywords=[]), value)
        result: ast.AST = self.visit(value)
        return result

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = rename(node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node.attr = rename(node.attr)
        return self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> ast.AST:
        node.name = rename(node.name)
        node.asname = rename(node.asname) if node.asname else None
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        if node.module and node.module.endswith(ASYNC_MODULE):
            node.module = node.module.removesuffix(ASYNC_MODULE) + SYNC_MODULE
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str):
            node.value = rename(node.value)
        return node


def _layout_to_statements(text: str, where: str) -> str:
    """Turn each full-line comment and blank line (outside brackets) into a placeholder statement
    at the indentation of the next line of code, so that it survives parsing and unparsing."""
    lines = text.splitlines(keepends=True)
    kept: dict[int, str] = {}
    depth = 0
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        row, col = token.start
        if token.type == tokenize.OP and token.string in {"(", "[", "{"}:
            depth += 1
        elif token.type == tokenize.OP and token.string in {")", "]", "}"}:
            depth -= 1
        elif token.type == tokenize.COMMENT:
            if depth or token.line[:col].strip():
                raise GenerationError(
                    f"{where}:{row}: a comment after code or inside brackets would be lost in "
                    "the generated file; put it on a line of its own"
                )
            kept[row - 1] = token.string
        elif token.type == tokenize.NL and not depth and not token.line.strip():
            kept[row - 1] = ""
    for index, line in sorted(kept.items()):
        following = (n for n in range(index + 1, len(lines)) if n not in kept and lines[n].strip())
        code = lines[next(following, index)]
        if _CONTINUES_BLOCK.match(code):
            if line:
                raise GenerationError(
                    f"{where}:{index + 1}: a comment just before {code.split()[0]} cannot be kept; "
                    "move it into the block"
                )
            continue
        indent = code[: len(code) - len(code.lstrip())]
        lines[index] = f"{indent}{_LAYOUT}({line!r})\n"
    return "".join(lines)


def _statements_to_layout(code: str) -> str:
    """Placeholders back to comments and blank lines. ``ast.unparse`` puts a blank line before
    each ``def`` and ``class``; after a placeholder it goes, so a comment stays attached."""

    def restore(match: re.Match[str]) -> str:
        line = ast.literal_eval(match[2])
        return f"{match[1]}{line}\n" if line else "\n"

    return _LAYOUT_LINE.sub(restore, code)


def _ruff(code: str, target: Path, *args: str) -> str:
    command = [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(target), "-"]
    done = subprocess.run(command, input=code, capture_output=True, text=True, cwd=ROOT, check=False)  # noqa: S603
    if done.returncode != 0:
        raise GenerationError(f"ruff {args[0]} failed on the output for {target}: {done.stderr.strip()}")
    return done.stdout


def _identifiers(node: ast.AST) -> list[str]:
    match node:
        case ast.Name(id=name) | ast.Attribute(attr=name) | ast.alias(name=name):
            return [name]
        case ast.FunctionDef(name=name) | ast.ClassDef(name=name) | ast.ImportFrom(module=str(name)):
            return [name]
    return []


def _refuse_async_leftovers(code: str, where: str) -> None:
    left: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.AsyncFunctionDef | ast.AsyncWith | ast.AsyncFor | ast.Await):
            left.add(type(node).__name__)
        left.update(name for name in _identifiers(node) if _ASYNC_WORD.search(name))
    if left:
        raise GenerationError(
            f"{where}: the sync output still has {', '.join(sorted(left))}; map it in NAMES"
        )


def convert(text: str, where: str, target: Path) -> str:
    """The sync module for the async source ``text`` (read from ``where``, to be written to
    ``target``), header included."""
    tree = ast.parse(_layout_to_statements(text, where), filename=where)
    tree = ast.fix_missing_locations(AsyncToSync(where).visit(tree))
    code = HEADER.format(source=where) + _statements_to_layout(ast.unparse(tree)) + "\n"
    code = _ruff(code, target, "check", "--fix-only", "--select", "I,F401")
    code = _ruff(code, target, "format")
    _refuse_async_leftovers(code, where)
    return code


def generate(source: Path) -> str:
    """The sync module generated from ``source``, as it should be on disk."""
    where = source.relative_to(ROOT).as_posix()
    return convert(source.read_text(encoding="utf-8"), where, target_of(source))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the sync modules from their async originals.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 listing stale files")
    check = parser.parse_args(argv).check
    targets = {target_of(source): source for source in sources()}
    errors = [
        f"{path.relative_to(ROOT)}: generated, but its original is gone; delete it"
        for path in sorted(PACKAGE.rglob(f"*{SYNC_MODULE}.py"))
        if path not in targets and is_generated(path)
    ]
    errors += [
        f"{target.relative_to(ROOT)}: not a generated file; rename it or its {source.name}"
        for target, source in targets.items()
        if target.exists() and not is_generated(target)
    ]
    if errors:
        sys.stderr.write("".join(f"error: {e}\n" for e in errors))
        return 2
    try:
        stale = [
            (target, code)
            for target, code in ((target, generate(source)) for target, source in targets.items())
            if not target.exists() or target.read_text(encoding="utf-8") != code
        ]
    except GenerationError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    for target, code in stale:
        where = target.relative_to(ROOT).as_posix()
        if check:
            sys.stderr.write(f"stale: {where}\n")
        else:
            target.write_text(code, encoding="utf-8")
            sys.stdout.write(f"wrote {where}\n")
    if check and stale:
        sys.stderr.write("run `.venv/bin/python tools/async_to_sync.py` and commit the result\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
