"""``leadledger campaigns ...``: create, import an Apify dataset, statistics, list, transition.

The CLI is the service (docs/decisions.md D47). ``--org ID`` makes it act in that organization
only (another organization's campaign is not found; ``list`` shows that organization's); without
it, it acts across organizations, and ``create`` puts the campaign in the default organization."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leadledger.campaigns.client import CampaignsClient
from leadledger.campaigns.importer import import_items, load_dataset
from leadledger.campaigns.models import (
    CampaignCreate,
    CampaignOverview,
    CampaignStatistics,
    CampaignStatus,
    ZipCodeTarget,
)
from leadledger.cli_common import cli_errors, console, open_database

app = typer.Typer(help="Google Maps campaigns: create, import, statistics.", no_args_is_help=True)

#: ``--org ID``: the organization the command acts in (the service acts across them without it).
OrgOption = Annotated[
    UUID | None,
    typer.Option(
        "--org",
        help="Act in this organization only (without it: across organizations; create: the default one).",
    ),
]


@app.command("create")
@cli_errors
def create(
    name: Annotated[str, typer.Option(help="Campaign name.")],
    zip_codes: Annotated[list[str], typer.Option("--zip", help="A ZIP code to cover (repeatable).")],
    keyword: Annotated[list[str] | None, typer.Option(help="A search keyword (repeatable).")] = None,
    location: Annotated[str | None, typer.Option(help="Free-text location, e.g. 'Austin, TX'.")] = None,
    description: Annotated[str | None, typer.Option(help="Description.")] = None,
    cost_per_zip: Annotated[float, typer.Option(help="Estimated cost of scraping one ZIP, USD.")] = 0.0,
    org: OrgOption = None,
) -> None:
    """Create a campaign with its ZIP coverage."""
    campaign = CampaignCreate(
        name=name,
        keywords=keyword or [],
        location=location,
        description=description,
        zip_codes=[ZipCodeTarget(zip_code=z, estimated_cost=Decimal(str(cost_per_zip))) for z in zip_codes],
    )
    with open_database() as db:
        created = CampaignsClient(db).create_campaign(campaign, org)
    console.print(
        f"created campaign [bold]{created.campaign_id}[/] with {created.zip_count} ZIP codes"
        f" in organization {created.organization_id}"
    )
    print(created.campaign_id)


@app.command("import")
@cli_errors
def import_file(
    file: Annotated[Path, typer.Argument(help="An Apify Google Maps dataset (JSON array).")],
    campaign: Annotated[UUID, typer.Option("--campaign", help="Campaign id.")],
    zip_code: Annotated[str | None, typer.Option("--zip", help="Send every item under this ZIP.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10000, help="Items per call.")] = 500,
    org: OrgOption = None,
) -> None:
    """Import a dataset file into a campaign, in ZIP-grouped batches, with a progress bar."""
    items = load_dataset(file)
    with open_database() as db:
        client = CampaignsClient(db)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task("import", total=len(items))
            totals = import_items(
                client,
                campaign,
                items,
                batch_size=batch_size,
                zip_code=zip_code,
                progress=lambda n: progress.advance(task, n),
                organization_id=org,
            )
        stats = client.update_statistics(campaign, org)
    console.print(
        f"{totals.total} items in {totals.batches} batches: {totals.inserted} new, "
        f"{totals.updated} updated, {totals.skipped} skipped"
    )
    console.print(statistics_table(stats))


@app.command("stats")
@cli_errors
def stats(campaign: Annotated[UUID, typer.Argument(help="Campaign id.")], org: OrgOption = None) -> None:
    """Recompute and show a campaign's statistics, coverage and costs."""
    with open_database() as db:
        client = CampaignsClient(db)
        statistics = client.update_statistics(campaign, org)
        overview = client.get_campaign(campaign, org)
    console.print(statistics_table(statistics))
    console.print(costs_table(overview))


@app.command("list")
@cli_errors
def list_campaigns(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    status: Annotated[CampaignStatus | None, typer.Option(help="Only this status.")] = None,
    org: OrgOption = None,
) -> None:
    """List campaigns, newest first (of one organization with --org)."""
    with open_database() as db:
        rows = CampaignsClient(db).list_campaigns(limit=limit, status=status, organization_id=org)
    table = Table(title="campaigns")
    for column in ("id", "name", "status", "ZIPs", "businesses", "emails", "cost USD", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.name,
            row.status.value,
            f"{row.zips_scraped}/{row.target_zip_count}",
            str(row.total_businesses),
            str(row.total_emails),
            f"{row.actual_cost:.2f}",
            f"{row.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("transition")
@cli_errors
def transition(
    campaign: Annotated[UUID, typer.Argument(help="Campaign id.")],
    status: Annotated[CampaignStatus, typer.Argument(help="New status.")],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    org: OrgOption = None,
) -> None:
    """Move a campaign to another status."""
    with open_database() as db:
        result = CampaignsClient(db).transition_status(campaign, status, reason, org)
    console.print(f"{result.from_status.value} -> {result.to_status.value}")


def statistics_table(stats: CampaignStatistics) -> Table:
    table = Table(title=f"campaign {stats.campaign_id}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in (
        ("businesses", stats.total_businesses),
        ("emails", stats.total_emails),
        ("facebook pages", stats.total_facebook_pages),
        ("linkedin profiles", stats.total_linkedin_profiles),
        ("verified emails", stats.total_verified_emails),
        ("ZIPs scraped", f"{stats.zips_scraped}/{stats.zips_total}"),
        ("cost USD (actual / estimated)", f"{stats.actual_cost:.4f} / {stats.estimated_cost:.4f}"),
    ):
        table.add_row(label, str(value))
    return table


def costs_table(overview: CampaignOverview) -> Table:
    table = Table(title="costs by service")
    for column in ("service", "calls", "items", "cost USD"):
        table.add_column(column, justify="right" if column != "service" else "left")
    for service, cost in sorted(overview.costs_by_service.items()):
        table.add_row(service.value, str(cost.calls), str(cost.items_processed), f"{cost.cost_usd:.4f}")
    return table
