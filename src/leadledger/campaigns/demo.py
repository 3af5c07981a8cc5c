"""The campaign walk-through of ``leadledger demo``: a realistic campaign from the sample
Apify dataset shipped with leadledger, through scraping, enrichment, verification and costs."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from leadledger.campaigns.cli import costs_table, statistics_table
from leadledger.campaigns.client import CampaignsClient
from leadledger.campaigns.importer import batches, sample_dataset
from leadledger.campaigns.models import CampaignCreate, CampaignStatus, EnrichmentType, ZipCodeTarget
from leadledger.db import Database

GOOGLE_MAPS_COST_PER_ITEM = Decimal("0.004")
ZIP_CODES = ("78701", "78702", "78704")


def _domain(website: str | None) -> str:
    host = (website or "https://example.com").split("//")[-1].split("/")[0]
    return host.removeprefix("www.")


def run(db: Database, console: Console) -> None:
    client = CampaignsClient(db)
    items = sample_dataset()
    console.rule("campaigns: Austin dentists")

    created = client.create_campaign(
        CampaignCreate(
            name="Austin dentists",
            keywords=["dentist", "orthodontist"],
            location="Austin, TX",
            coverage_profile="balanced",
            zip_codes=[
                ZipCodeTarget(zip_code=z, max_results=200, estimated_cost=Decimal("0.80")) for z in ZIP_CODES
            ],
        )
    )
    campaign_id = created.campaign_id
    console.print(f"created campaign {campaign_id} covering {created.zip_count} ZIP codes")
    client.transition_status(campaign_id, CampaignStatus.RUNNING, "scraping started")

    for zip_code, batch in batches(items, batch_size=100):
        result = client.save_businesses_batch(campaign_id, zip_code, batch)
        console.print(
            f"ZIP {zip_code or '(none)'}: {result.total} results -> {result.inserted} new, "
            f"{result.updated} already known from a neighbouring ZIP, {result.skipped} skipped"
        )
        if zip_code is not None:
            emails = sum(1 for item in batch if item.get("emails"))
            cost = GOOGLE_MAPS_COST_PER_ITEM * len(batch)
            client.update_coverage_status(campaign_id, zip_code, len(batch), emails, cost)
            client.track_campaign_cost(campaign_id, "google_maps", len(batch), cost, {"zip_code": zip_code})

    claim = client.claim_for_enrichment(campaign_id, EnrichmentType.FACEBOOK, "demo-facebook-worker", limit=8)
    console.print(f"facebook worker claimed {claim.claimed} businesses")
    facebook = [
        {
            "business_id": str(b.business_id),
            "campaign_id": str(campaign_id),
            "facebook_url": b.facebook_url or f"https://www.facebook.com/{b.place_id.lower()}",
            "page_name": b.name,
            "primary_email": f"frontdesk@{_domain(b.website)}",
            "phone_numbers": [b.phone] if b.phone else [],
        }
        for b in claim.businesses
    ]
    fb = client.save_enrichment_batch(EnrichmentType.FACEBOOK, facebook)
    client.track_campaign_cost(campaign_id, "facebook", len(facebook), Decimal("0.01") * len(facebook))
    console.print(f"facebook enrichment: {fb.updated} saved, {fb.failed} failed")

    leads = client.get_businesses_for_enrichment(campaign_id, EnrichmentType.LINKEDIN, limit=3)
    linkedin = [
        {
            "business_id": str(b.business_id),
            "linkedin_url": f"https://www.linkedin.com/company/{b.place_id.lower()}",
            "company": {"name": b.name, "size": "11-50", "industry": "Medical Practices"},
            "person": {"name": "Dr. Jordan Reyes", "title": "Owner"},
            "primary_email": f"jordan.reyes@{_domain(b.website)}",
        }
        for b in leads
    ]
    li = client.save_enrichment_batch(EnrichmentType.LINKEDIN, linkedin)
    client.track_campaign_cost(campaign_id, "linkedin", len(linkedin), Decimal("0.05") * len(linkedin))
    console.print(
        f"linkedin enrichment: {li.updated} saved (their emails now outrank Facebook and Google Maps)"
    )

    verified = 0
    for business in client.get_businesses_for_enrichment(campaign_id, EnrichmentType.FACEBOOK, limit=100):
        if business.email:
            bouncer = {
                "email": business.email,
                "status": "deliverable",
                "reason": "accepted_email",
                "score": 98,
                "domain": {"disposable": "no", "acceptAll": "no"},
                "account": {"role": "no"},
                "provider": "google.com",
            }
            client.update_email_verification(business.business_id, business.email, bouncer)
            verified += 1
    for b in leads:
        email = f"jordan.reyes@{_domain(b.website)}"
        client.update_email_verification(
            b.business_id, email, {"status": "risky", "reason": "low_deliverability"}
        )
        verified += 1
    client.track_campaign_cost(campaign_id, "bouncer", verified, Decimal("0.007") * verified)
    console.print(f"verified {verified} emails with Bouncer")

    client.transition_status(campaign_id, CampaignStatus.COMPLETED, "all ZIP codes scraped")
    console.print(statistics_table(client.update_statistics(campaign_id)))
    overview = client.get_campaign(campaign_id)
    console.print(costs_table(overview))
    history = " -> ".join(
        [overview.status_history[0].from_status.value] + [h.to_status.value for h in overview.status_history]
    )
    console.print(f"status history: {history}")
