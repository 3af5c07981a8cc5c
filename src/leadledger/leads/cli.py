"""``leadledger leads ...`` and ``leadledger whatsapp ...`` (``users`` moved to leadledger.orgs.cli)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from leadledger.cli_common import cli_errors, console, err_console, fail, load_settings, open_database
from leadledger.db.errors import ConfigurationError, ValidationError
from leadledger.leads.client import LeadsClient
from leadledger.leads.models import LeadStatus
from leadledger.leads.phones import InvalidPhoneNumber, to_e164
from leadledger.leads.whatsapp import ACCESS_TOKEN_REF_PREFIX

leads_app = typer.Typer(help="Leads and conversations: import and list.", no_args_is_help=True)
whatsapp_app = typer.Typer(help="WhatsApp Business numbers.", no_args_is_help=True)

#: Leads per call of the bulk import (each call is all or nothing).
IMPORT_CHUNK = 1000


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
    user: Annotated[UUID, typer.Option(help="The member whose leads they are.")],
    org: Annotated[
        UUID | None,
        typer.Option(help="The organization to import into (needed when the user belongs to several)."),
    ] = None,
) -> None:
    """Import leads from a CSV into an organization, each with its conversation. Each chunk of
    1,000 rows is all or nothing; the import stops at the first chunk with a bad row and names
    every bad row."""
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
                created += client.import_leads(user, chunk, org).created
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
    user: Annotated[UUID, typer.Option(help="A member of the organization.")],
    org: Annotated[
        UUID | None, typer.Option(help="The organization (needed when the user belongs to several).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    status: Annotated[LeadStatus | None, typer.Option(help="Only this status.")] = None,
    search: Annotated[str | None, typer.Option(help="Search in name or phone.")] = None,
) -> None:
    """List the live leads of the user's organization (every member's), newest first."""
    with open_database() as db:
        leads = LeadsClient(db).list_leads(
            user, limit=limit, status=status, search=search, organization_id=org
        )
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
    user: Annotated[UUID, typer.Option(help="The member whose the number's new leads are.")],
    phone_number_id: Annotated[str, typer.Option(help="Meta's phone_number_id of the business number.")],
    org: Annotated[
        UUID | None,
        typer.Option(help="The organization the number belongs to (default: the user's one organization)."),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            help="The environment variable of the service that holds this number's access token "
            "(stored as env:NAME, never the token; default: LEADLEDGER_WHATSAPP_ACCESS_TOKEN)."
        ),
    ] = None,
    display_phone: Annotated[
        str | None, typer.Option(help="The number as shown, e.g. +1 555 078 3881.")
    ] = None,
) -> None:
    """Link a WhatsApp Business number to an organization: its incoming messages land there, and
    its members send from it. Relinking it to another organization is refused."""
    ref = f"{ACCESS_TOKEN_REF_PREFIX}{token_env}" if token_env else None
    with open_database() as db:
        linked = LeadsClient(db).link_whatsapp_number(user, phone_number_id, display_phone, ref, org)
    console.print(
        f"WhatsApp number {phone_number_id} now belongs to organization {linked['organization_id']} "
        f"(new leads: user {user})",
        highlight=False,
    )


@whatsapp_app.command("list")
@cli_errors
def list_numbers(org: Annotated[UUID, typer.Option(help="The organization.")]) -> None:
    """List an organization's WhatsApp Business numbers and where their access tokens are."""
    with open_database() as db:
        numbers = LeadsClient(db).list_whatsapp_numbers(org)
    table = Table(title="WhatsApp numbers")
    for column in ("phone_number_id", "display", "new leads of", "access token", "linked"):
        table.add_column(column)
    for number in numbers:
        table.add_row(
            number.phone_number_id,
            number.display_phone or "",
            str(number.user_id),
            number.access_token_ref or "LEADLEDGER_WHATSAPP_ACCESS_TOKEN",
            f"{number.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)
