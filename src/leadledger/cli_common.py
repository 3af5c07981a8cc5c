"""What every CLI module shares: consoles, error handling, settings and opening the database."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pydantic
import typer
from rich.console import Console

from leadledger.db import Database, Settings
from leadledger.db.errors import LeadledgerError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    return typer.Exit(code)


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn leadledger and settings errors into one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LeadledgerError as exc:
            raise fail(_escape(exc.message)) from None
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or exc.title
            what = "setting " if exc.title == "Settings" else ""
            raise fail(_escape(f"invalid {what}{field}: {first['msg']}")) from None

    return wrapper


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def load_settings() -> Settings:
    return Settings()


def open_database(settings: Settings | None = None) -> Database:
    """The configured database (or the embedded one), checked and with its pool open."""
    return Database.connect(settings or load_settings())
