"""``leadledger users ...``, ``leadledger leads ...`` and ``leadledger whatsapp ...``."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from leadledger.api.auth import new_api_key
from leadledger.cli_common import cli_errors, console, err_console, fail, load_settings, open_database
from leadledger.db.errors import ConfigurationError, ValidationError
from leadledger.leads.client import LeadsClient
from leadledger.leads.models import LeadStatus
from leadledger.leads.phones import InvalidPhoneNumber, to_e164
from leadledger.orgs.client import OrgsClient

users_app = typer.Typer(help="Users (owners of leads) and their API keys.", no_args_is_help=True)
leads_app = typer.Typer(help="Leads and conversations: import and list.", no_args_is_help=True)
whatsapp_app = typer.Typer(help="WhatsApp Business numbers.", no_args_is_help=True)

#: Leads per call of the bulk import (each call is all or nothing).
IMPORT_CHUNK = 1000


@users_app.command("create")
@cli_errors
def create_user(
    email: Annotated[str, typer.Option(help="The user's email.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create a user and an API key for it (the key is shown once)."""
    key, digest = new_api_key()
    with open_database() as db:
        orgs = OrgsClient(db)
        user = orgs.create_user(email, name)
        orgs.create_api_key(user.user_id, digest)
    console.print(f"user [bold]{user.user_id}[/] ({user.email})")
    console.print(f"API key (shown once, send it as X-API-Key): [bold]{key}[/]")


@users_app.command("api-key")
@cli_errors
def create_key(
    user: Annotated[UUID, typer.Option(help="User id.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
) -> None:
    """Create another API key for a user."""
    key, digest = new_api_key()
    with open_database() as db:
        OrgsClient(db).create_api_key(user, digest, name)
    print(key)


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV with a header: customer_phone, customer_name, type (or lead_type), details."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [
                {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
                for row in csv.DictReader(handle)
            ]
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigurationError(f"{path}: not a CSV file ({exc})") from None
    if not rows:
        raise ConfigurationError(f"{path}: no rows")
    if "customer_phone" not in rows[0]:
        raise ConfigurationError(
            f"{path}: the header must name customer_phone (and customer_name, type, details)"
        )
    return [{k: v for k, v in row.items() if v not in (None, "")} for row in rows]


def normalise_phone(row: dict[str, Any], region: str) -> dict[str, Any]:
    """The row with its phone in E.164 when it can be read (in ``region`` when it has no country
    code); otherwise unchanged, so that the database names it as a bad row."""
    try:
        return {**row, "customer_phone": to_e164(str(row.get("customer_phone", "")), region)}
    except InvalidPhoneNumber:
        return row


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for start in range(0, len(rows), size):
        yield start, rows[start : start + size]


@leads_app.command("import")
@cli_errors
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV: customer_phone, customer_name, type, details.")],
    user: Annotated[UUID, typer.Option(help="Owner of the leads.")],
) -> None:
    """Import leads from a CSV, each with its conversation. Each chunk of 1,000 rows is all or
    nothing; the import stops at the first chunk with a bad row and names every bad row."""
    settings = load_settings()
    rows = [normalise_phone(row, settings.default_phone_region) for row in read_csv(file)]
    created = 0
    with (
        open_database(settings) as db,
        Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), console=console) as progress,
    ):
        client = LeadsClient(db)
        task = progress.add_task("import", total=len(rows))
        for start, chunk in _chunks(rows, IMPORT_CHUNK):
            try:
                created += client.import_leads(user, chunk).created
            except ValidationError as exc:
                progress.stop()
                errors = (exc.envelope or {}).get("errors") or []
                for error in errors[:50]:
                    # +2: CSV line numbers count the header and start at 1.
                    err_console.print(
                        f"line {start + int(error['index']) + 2}: {error['field']}: {error['reason']}",
                        highlight=False,
                        markup=False,
                    )
                raise fail(
                    f"{len(errors)} bad rows in lines {start + 2}-{start + len(chunk) + 1}; "
                    f"{created} leads imported before them"
                ) from None
            progress.advance(task, len(chunk))
    console.print(f"imported {created} leads, each with its conversation")


@leads_app.command("list")
@cli_errors
def list_leads(
    user: Annotated[UUID, typer.Option(help="Owner of the leads.")],
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    status: Annotated[LeadStatus | None, typer.Option(help="Only this status.")] = None,
    search: Annotated[str | None, typer.Option(help="Search in name or phone.")] = None,
) -> None:
    """List a user's live leads, newest first."""
    with open_database() as db:
        leads = LeadsClient(db).list_leads(user, limit=limit, status=status, search=search)
    table = Table(title="leads")
    for column in ("id", "phone", "name", "type", "status", "source", "conversation", "created"):
        table.add_column(column)
    for lead in leads:
        table.add_row(
            str(lead.lead_id),
            lead.customer_phone,
            lead.customer_name or "",
            lead.lead_type.value,
            lead.status.value,
            lead.source.value,
            lead.conversation_status.value if lead.conversation_status else "",
            f"{lead.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@whatsapp_app.command("link")
@cli_errors
def link_number(
    user: Annotated[UUID, typer.Option(help="Owner of the number.")],
    phone_number_id: Annotated[str, typer.Option(help="Meta's phone_number_id of the business number.")],
    display_phone: Annotated[
        str | None, typer.Option(help="The number as shown, e.g. +1 555 078 3881.")
    ] = None,
) -> None:
    """Route a WhatsApp Business number's incoming messages to a user."""
    with open_database() as db:
        LeadsClient(db).link_whatsapp_number(user, phone_number_id, display_phone)
    console.print(f"WhatsApp number {phone_number_id} now belongs to {user}")
