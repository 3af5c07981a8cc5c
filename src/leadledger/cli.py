"""The ``leadledger`` command: assembles the commands of the core and of every domain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.markup import escape
from rich.table import Table

from leadledger import __version__
from leadledger.campaigns import cli as campaigns_cli
from leadledger.campaigns import demo as campaigns_demo
from leadledger.cli_common import cli_errors, console, err_console, load_settings, open_database
from leadledger.db import reference
from leadledger.db.migrations import MigrationRunner, export_supabase
from leadledger.db.pool import direct_connection, resolve_database_url
from leadledger.etl import cli as etl_cli
from leadledger.etl import demo as etl_demo
from leadledger.leads import cli as leads_cli
from leadledger.leads import demo as leads_demo
from leadledger.log import configure_logging, uvicorn_log_config
from leadledger.orgs import cli as orgs_cli
from leadledger.orgs import demo as orgs_demo

app = typer.Typer(
    name="leadledger",
    help="PostgreSQL-native backend for lead-generation platforms.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database: migrations, status, URL.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(campaigns_cli.app, name="campaigns")
app.add_typer(leads_cli.leads_app, name="leads")
app.add_typer(orgs_cli.orgs_app, name="orgs")
app.add_typer(orgs_cli.keys_app, name="keys")
app.add_typer(orgs_cli.users_app, name="users")
app.add_typer(leads_cli.whatsapp_app, name="whatsapp")
app.add_typer(etl_cli.app, name="etl")
docs_app = typer.Typer(help="Documentation generated from the code.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")


def _version(value: bool) -> None:
    if value:
        console.print(f"leadledger {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="Log level for leadledger's own logs.")] = "WARNING",
    log_json: Annotated[bool, typer.Option(help="Write logs as JSON lines.")] = False,
) -> None:
    configure_logging(log_level, json=log_json)


def _current_table(runner: MigrationRunner) -> Table:
    table = Table(title="current state (functions, views, triggers; re-applied when changed)")
    table.add_column("file")
    table.add_column("sha256")
    table.add_column("applied at")
    table.add_column("state")
    colour = {
        "applied": "ok",
        "changed": "[yellow]changed[/]",
        "pending": "[yellow]pending[/]",
        "removed": "[red]removed[/]",
    }
    for state in runner.current_status():
        table.add_row(
            state.path,
            state.checksum[:12],
            f"{state.applied_at:%Y-%m-%d %H:%M:%S}" if state.applied_at else "",
            colour[state.state],
        )
    return table


def _status_table(runner: MigrationRunner) -> Table:
    table = Table(title="migrations")
    table.add_column("version")
    table.add_column("name")
    table.add_column("package")
    table.add_column("applied at")
    table.add_column("checksum")
    for state in runner.status():
        checksum = {None: "", True: "ok", False: "[red]CHANGED[/]"}[state.checksum_ok]
        table.add_row(
            state.version,
            state.name,
            state.migration.package if state.migration else "[red]unknown[/]",
            f"{state.applied_at:%Y-%m-%d %H:%M:%S}" if state.applied_at else "[yellow]pending[/]",
            checksum,
        )
    return table


@db_app.command("up")
@cli_errors
def db_up(
    to: Annotated[str | None, typer.Option(help="Stop after this version.")] = None,
) -> None:
    """Apply pending migrations, then the current state if it changed (safe from many processes)."""
    with direct_connection(load_settings()) as (conn, _url):
        runner = MigrationRunner(conn)
        done = runner.upgrade(to)
    for m in done:
        console.print(f"applied {m.filename}")
    if runner.current_applied:
        console.print(f"applied the current state ({len(runner.current_applied)} files)")
    if not done and not runner.current_applied:
        console.print("nothing to apply: the database is up to date")


@db_app.command("down")
@cli_errors
def db_down(
    to: Annotated[
        str | None,
        typer.Option(help="Roll back everything newer than this version; 0 rolls back all."),
    ] = None,
) -> None:
    """Roll back the latest migration, or down to --to VERSION (0: everything).

    The current state (functions, views, triggers) is removed first; `db up` puts it back."""
    with direct_connection(load_settings()) as (conn, _url):
        done = MigrationRunner(conn).downgrade(to)
    if done:
        for m in done:
            console.print(f"rolled back {m.filename}")
    else:
        console.print("nothing to roll back")


@db_app.command("status")
@cli_errors
def db_status() -> None:
    """Show every migration and current-state file: applied, pending or changed, with checksums."""
    with direct_connection(load_settings()) as (conn, _url):
        runner = MigrationRunner(conn)
        console.print(_status_table(runner))
        console.print(_current_table(runner))


@db_app.command("url")
@cli_errors
def db_url() -> None:
    """Print the database URL in use (starting the embedded server if none is configured)."""
    settings = load_settings()
    with direct_connection(settings) as (_conn, url):
        print(url)
    if not settings.database_url:
        err_console.print(
            "note: embedded server; it runs while a leadledger process (serve, demo) uses it",
            highlight=False,
        )


@db_app.command("export-supabase")
@cli_errors
def db_export_supabase(
    target: Annotated[Path, typer.Argument(help="The supabase/migrations folder.")] = Path(
        "supabase/migrations"
    ),
) -> None:
    """Write the migrations into a Supabase CLI migrations folder: versioned ones unchanged, the
    current state as one new migration when it changed since the last export."""
    for path in export_supabase(target):
        console.print(f"wrote {path}")


@docs_app.command("sql-reference")
@cli_errors
def docs_sql_reference(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when the file on disk is stale.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option(help=f"Where to write (default: the project's {reference.REFERENCE_PATH}).")
    ] = None,
) -> None:
    """Write docs/sql-reference.md (the stored functions a client may call) from the SQL files."""
    path = output or reference.default_path()
    if check:
        problem = reference.check(path)
        if problem is None:
            console.print(f"{path} is up to date", highlight=False)
            return
        first, _, diff = problem.partition("\n")
        err_console.print(f"[bold red]error:[/] {escape(first)}", highlight=False, soft_wrap=True)
        if diff:
            err_console.print(diff, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    changed = reference.write(path)
    console.print(f"{'wrote' if changed else 'unchanged:'} {path}", highlight=False)


@app.command()
@cli_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """Run the HTTP service (uvicorn)."""
    import uvicorn

    from leadledger.api import create_app

    settings = load_settings()
    # Resolved here, not in the app's startup, so that a bad URL or an embedded server that
    # cannot start is a one-line error (cli_errors) rather than a traceback from uvicorn. A
    # server that is merely down is not an error: the service starts and /api/health says 503.
    url, embedded = resolve_database_url(settings)
    try:
        uvicorn.run(
            create_app(settings, database_url=url, embedded=embedded),
            host=host or settings.api_host,
            port=port or settings.api_port,
            log_level=settings.log_level.lower(),
            # uvicorn's own logging, with query values (Meta's hub.verify_token, a searched phone
            # number) and sensitive fields masked: leadledger.log.
            log_config=uvicorn_log_config(),
        )
    finally:
        if embedded is not None:
            embedded.stop()


@app.command()
@cli_errors
def demo() -> None:
    """Walk through leadledger on the configured database (the embedded one by default)."""
    settings = load_settings()
    with open_database(settings) as db:
        where = "embedded PostgreSQL" if not settings.database_url else "configured database"
        with psycopg.connect(db.url, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            console.rule(f"leadledger {__version__} demo")
            console.print(f"database: {where}, PostgreSQL {version[0] if version else '?'}")
            runner = MigrationRunner(conn)
            done = runner.upgrade()
            console.print(f"migrations applied now: {len(done)}")
            console.print(_status_table(runner))
            console.print(_current_table(runner))
        campaigns_demo.run(db, console)
        leads_demo.run(db, settings, console)
        etl_demo.run(db, console)
        orgs_demo.run(db, settings, console)
        console.rule("done")


def main() -> None:
    app()
