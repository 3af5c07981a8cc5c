"""``leadledger etl ...``: state counts and timeouts."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from leadledger.cli_common import cli_errors, console, fail, open_database
from leadledger.etl.client import EtlClient
from leadledger.etl.models import EtlState, StateTable

app = typer.Typer(help="The ETL engine: states and timeouts.", no_args_is_help=True)

_DURATION = re.compile(r"^(\d+)\s*(s|sec|m|min|h|hour|hours|d|day|days)$")
_UNITS = {
    "s": "seconds",
    "sec": "seconds",
    "m": "minutes",
    "min": "minutes",
    "h": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
}


def parse_duration(text: str) -> timedelta:
    """'30m', '2h', '90s', '1d' -> a timedelta."""
    match = _DURATION.match(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise fail(f"--older-than: expected a positive duration like 30m, 2h or 1d, got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


_ORG_HELP = "Only this organization's rows (default: every organization)."


@app.command("states")
@cli_errors
def states(
    org: Annotated[UUID | None, typer.Option("--org", help=_ORG_HELP)] = None,
) -> None:
    """Rows per table and state."""
    with open_database() as db:
        counts = EtlClient(db).state_counts(org)
    by_table: dict[StateTable, dict[EtlState, int]] = {table: {} for table in StateTable}
    for row in counts:
        by_table[row.table_name][row.state] = row.rows
    table = Table(title="ETL states" if org is None else f"ETL states of organization {org}")
    table.add_column("table")
    for state in EtlState:
        table.add_column(state.value, justify="right")
    for name, row_counts in by_table.items():
        table.add_row(name.value, *(str(row_counts.get(state, 0) or "") for state in EtlState))
    console.print(table)


@app.command("timeouts")
@cli_errors
def timeouts(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Also time out rows unchanged for this long: 30m, 2h.")
    ],
    org: Annotated[UUID | None, typer.Option("--org", help=_ORG_HELP)] = None,
) -> None:
    """Move in_progress and waiting rows past their deadline (or older than --older-than) to timedout."""
    interval = parse_duration(older_than)
    with open_database() as db:
        moved = EtlClient(db).mark_timedout(interval, org)
    console.print(f"{moved} rows moved to timedout")
