"""The typed campaign clients (sync and async) and the dataset importer, end to end."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from leadledger.campaigns.client import AsyncCampaignsClient, CampaignsClient
from leadledger.campaigns.importer import batches, import_items, load_dataset, sample_dataset
from leadledger.campaigns.models import (
    CampaignCreate,
    CampaignStatus,
    CostService,
    EmailSource,
    EnrichmentType,
    VerificationStatus,
    ZipCodeTarget,
)
from leadledger.db import AsyncDatabase, BusinessRuleError, Database, ReferencedRecordNotFoundError
from leadledger.db.errors import ConfigurationError, StatementTimeoutError, ValidationError
from tests.conftest import make_settings
from tests.helpers import sleep_trigger_sql

ZIPS = ("78701", "78702", "78704")


def new_campaign(client: CampaignsClient, name: str = "Austin dentists") -> UUID:
    created = client.create_campaign(
        CampaignCreate(
            name=name,
            keywords=["dentist"],
            zip_codes=[ZipCodeTarget(zip_code=z, estimated_cost=Decimal("0.5")) for z in ZIPS],
        )
    )
    assert created.zip_count == 3
    assert created.estimated_cost == Decimal("1.5")
    return created.campaign_id


def test_full_pipeline_with_the_sync_client(database: Database) -> None:
    client = CampaignsClient(database)
    campaign_id = new_campaign(client)
    assert (
        client.transition_status(campaign_id, CampaignStatus.RUNNING, "go").to_status
        is CampaignStatus.RUNNING
    )

    totals = import_items(client, campaign_id, sample_dataset(), batch_size=7)
    assert totals.inserted == 30  # 35 items: 4 repeats across neighbouring ZIPs, 1 without a place id
    assert (totals.updated, totals.skipped, totals.total) == (4, 1, 35)

    coverage = client.update_coverage_status(campaign_id, "78701", 11, 7, Decimal("0.044"))
    assert coverage.status.value == "scraped"
    cost = client.track_campaign_cost(campaign_id, CostService.GOOGLE_MAPS, 35, "0.14", {"run": 1})
    assert cost.new_total == Decimal("0.14")

    pending = client.get_businesses_for_enrichment(campaign_id, EnrichmentType.FACEBOOK, limit=5)
    assert len(pending) == 5
    claim = client.claim_for_enrichment(
        campaign_id, "facebook", "worker-1", limit=3, lease=timedelta(minutes=1)
    )
    assert claim.claimed == 3
    target = claim.businesses[0]
    saved = client.save_facebook_enrichment(
        target.business_id,
        campaign_id,
        {"facebook_url": "https://facebook.com/x", "primary_email": "fb@x.com"},
    )
    assert (saved.email, saved.email_source) == ("fb@x.com", EmailSource.FACEBOOK)
    linkedin = client.save_linkedin_enrichment(
        target.business_id,
        campaign_id,
        {"linkedin_url": "https://linkedin.com/company/x", "primary_email": "ceo@x.com"},
    )
    assert (linkedin.email, linkedin.email_source) == ("ceo@x.com", EmailSource.LINKEDIN)
    batch = client.save_enrichment_batch(
        EnrichmentType.FACEBOOK,
        [{"business_id": str(b.business_id), "primary_email": f"x{i}@y.com"} for i, b in enumerate(pending)]
        + [{"business_id": str(uuid4())}],
    )
    assert (batch.updated, batch.failed) == (5, 1)
    assert batch.errors[0].index == 5

    verification = client.update_email_verification(
        target.business_id,
        "ceo@x.com",
        {"status": "deliverable", "score": 97, "domain": {"disposable": False}},
    )
    assert verification.status is VerificationStatus.DELIVERABLE
    assert verification.is_safe
    assert verification.sources == [EmailSource.LINKEDIN]

    stats = client.update_statistics(campaign_id)
    assert stats.total_businesses == 30
    assert stats.total_verified_emails == 1
    assert stats.zips_scraped == 1

    overview = client.get_campaign(campaign_id)
    assert overview.campaign.status is CampaignStatus.RUNNING
    assert overview.costs_by_service[CostService.GOOGLE_MAPS].cost_usd == Decimal("0.14")
    assert overview.coverage.zips_scraped == 1
    assert [h.to_status for h in overview.status_history] == [CampaignStatus.RUNNING]
    assert [c.id for c in client.list_campaigns()] == [campaign_id]


def test_typed_errors_from_the_client(database: Database) -> None:
    client = CampaignsClient(database)
    campaign_id = new_campaign(client)
    with pytest.raises(ReferencedRecordNotFoundError, match="Campaign not found"):
        client.update_statistics(uuid4())
    with pytest.raises(ValidationError, match="p_service"):
        client.track_campaign_cost(campaign_id, "carrier_pigeon", 1, "1")
    with pytest.raises(BusinessRuleError, match="from draft to completed"):
        client.transition_status(campaign_id, CampaignStatus.COMPLETED)
    with pytest.raises(ReferencedRecordNotFoundError, match="ZIP code 99999"):
        client.update_coverage_status(campaign_id, "99999", 1, 1, 0)


def test_list_campaigns_keyset_pages(database: Database) -> None:
    client = CampaignsClient(database)
    ids = [new_campaign(client, f"campaign {i}") for i in range(5)]
    first = client.list_campaigns(limit=2)
    second = client.list_campaigns(limit=2, before=(first[-1].created_at, first[-1].id))
    third = client.list_campaigns(limit=2, before=(second[-1].created_at, second[-1].id))
    seen = [c.id for c in first + second + third]
    assert sorted(seen) == sorted(ids)
    assert len(set(seen)) == 5


@pytest.mark.anyio
async def test_async_client(async_database: AsyncDatabase) -> None:
    client = AsyncCampaignsClient(async_database)
    created = await client.create_campaign(
        CampaignCreate(name="async", zip_codes=[ZipCodeTarget(zip_code="10001")])
    )
    result = await client.save_businesses_batch(created.campaign_id, "10001", sample_dataset()[:5])
    assert result.inserted == 5
    stats = await client.update_statistics(created.campaign_id)
    assert stats.total_businesses == 5
    cost = await client.track_campaign_cost(created.campaign_id, "bouncer", 5, Decimal("0.035"))
    assert cost.new_total == Decimal("0.035")
    claim = await client.claim_for_enrichment(created.campaign_id, "linkedin", "w", limit=2)
    assert claim.claimed == 2
    transition = await client.transition_status(created.campaign_id, "cancelled", "test")
    assert transition.from_status is CampaignStatus.DRAFT
    overview = await client.get_campaign(created.campaign_id)
    assert overview.campaign.status is CampaignStatus.CANCELLED
    with pytest.raises(ReferencedRecordNotFoundError):
        await client.get_campaign(uuid4())


def test_importer_groups_by_zip_and_reads_files(tmp_path: Path) -> None:
    items = sample_dataset()
    groups = {key: len(batch) for key, batch in batches(items, 100)}
    assert groups == {"78701": 11, "78702": 11, "78704": 12, None: 1}
    assert {key for key, _ in batches(items, 100, zip_code="10001")} == {"10001"}
    assert [len(b) for _, b in batches(items[:10], 4, zip_code="10001")] == [4, 4, 2]
    good = tmp_path / "dataset.json"
    good.write_text(json.dumps(items[:3]))
    assert load_dataset(good) == items[:3]
    for content in ("{}", "[1, 2]", "not json"):
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        with pytest.raises(ConfigurationError):
            load_dataset(bad)
    with pytest.raises(ConfigurationError, match="no such file"):
        load_dataset(tmp_path / "missing.json")


def test_batch_calls_get_the_batch_functions_own_timeout(
    db_url: str, database: Database, conn: psycopg.Connection[Any]
) -> None:
    """The pool's statement_timeout (here 0.5 s) would cancel a batch that the function itself
    allows 60 s for: batch calls carry the longer timeout, other calls keep the pool's."""
    campaign = new_campaign(CampaignsClient(database))  # on the default timeout: not under test
    with Database(db_url, make_settings(db_url, statement_timeout=0.5)) as db:
        db.open()
        client = CampaignsClient(db)
        conn.execute(sleep_trigger_sql("gmaps_businesses", 1.2, per="STATEMENT"))
        result = client.save_businesses_batch(campaign, "78701", sample_dataset()[:3])
        assert result.inserted == 3
        with pytest.raises(StatementTimeoutError):  # the same function, called without it
            db.call(
                "insert_businesses_batch",
                p_campaign_id=campaign,
                p_zip_code="78702",
                p_businesses=sample_dataset()[3:6],
                attempts=1,
            )
