"""update_campaign_statistics: exact totals recomputed from the campaign's rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from leadledger.db import Database, ReferencedRecordNotFoundError
from tests.campaigns.conftest import (
    UNKNOWN_ID,
    Conn,
    Seed,
    add_businesses,
    apify_item,
    assert_rejected,
    business_id,
    call_sql,
    new_campaign,
    ok,
    one,
)

#: The totals computed straight from the tables, independently of the function.
EXPECTED = """
SELECT count(*)::int AS total_businesses,
       count(email)::int AS total_emails,
       count(facebook_url)::int AS total_facebook_pages,
       count(linkedin_url)::int AS total_linkedin_profiles,
       (count(*) FILTER (WHERE email_verification_status = 'deliverable'))::int AS total_verified_emails,
       (SELECT count(*) FROM gmaps_campaign_coverage WHERE campaign_id = %s AND status = 'scraped')::int
           AS zips_scraped
  FROM gmaps_businesses WHERE campaign_id = %s
"""

STORED = """
SELECT total_businesses, total_emails, total_facebook_pages, total_linkedin_profiles, total_verified_emails,
       zips_scraped
  FROM gmaps_campaigns WHERE id = %s
"""


def populate(pg: Conn, campaign: str) -> None:
    items = [
        apify_item("p1", 1),  # email, facebook
        apify_item("p2", 2, facebooks=[], linkedIns=["https://linkedin.com/company/p2"]),  # email, linkedin
        apify_item("p3", 3, emails=[], facebooks=[]),  # nothing
        apify_item("p4", 4, emails=["p4@example.com"], facebooks=[]),  # email
        apify_item("p5", 5, emails=[]),  # facebook
    ]
    add_businesses(pg, campaign, items)
    ok(
        pg,
        "update_coverage_status",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses_found=5,
        p_emails_found=3,
        p_actual_cost=Decimal("0.05"),
    )
    ok(
        pg,
        "update_email_verification",
        p_business_id=business_id(pg, campaign, "p1"),
        p_email="info1@brightsmile.example.com",
        p_verification_data={"status": "deliverable"},
    )
    ok(
        pg,
        "update_email_verification",
        p_business_id=business_id(pg, campaign, "p4"),
        p_email="p4@example.com",
        p_verification_data={"status": "risky"},
    )
    ok(
        pg,
        "save_linkedin_enrichment",
        p_business_id=business_id(pg, campaign, "p3"),
        p_campaign_id=campaign,
        p_enrichment={
            "linkedin_url": "https://linkedin.com/company/p3",
            "primary_email": "ceo@p3.example.com",
        },
    )
    ok(
        pg,
        "track_campaign_cost",
        p_campaign_id=campaign,
        p_service="google_maps",
        p_items_processed=5,
        p_cost_usd=Decimal("0.05"),
    )


def test_totals_are_exact_and_stored_on_the_campaign(pg: Conn, campaign: str) -> None:
    other = new_campaign(pg, "noise")  # another campaign's rows must not count
    add_businesses(pg, other, [apify_item("p1", 1), apify_item("x", 9)])
    populate(pg, campaign)

    result = call_sql(pg, "update_campaign_statistics", p_campaign_id=campaign)
    assert result == {
        "success": True,
        "campaign_id": campaign,
        "total_businesses": 5,
        "total_emails": 4,  # p1, p2, p4 from Google Maps, p3 from LinkedIn
        "total_facebook_pages": 2,
        "total_linkedin_profiles": 2,
        "total_verified_emails": 1,
        "zips_total": 3,
        "zips_scraped": 1,
        "zips_failed": 0,
        "actual_cost": Decimal("0.050000"),
        "estimated_cost": Decimal("0.000000"),
        "updated_at": result["updated_at"],
    }
    expected = one(pg, EXPECTED, campaign, campaign)
    assert one(pg, STORED, campaign) == expected
    assert {k: result[k] for k in expected} == expected
    stored_at = one(pg, "SELECT statistics_updated_at FROM gmaps_campaigns WHERE id = %s", campaign)
    assert stored_at["statistics_updated_at"] is not None
    # The other campaign was not touched.
    assert one(pg, STORED, other)["total_businesses"] == 0


def test_an_empty_campaign_has_zero_totals(pg: Conn, campaign: str) -> None:
    result = ok(pg, "update_campaign_statistics", p_campaign_id=campaign)
    assert (
        result["total_businesses"],
        result["total_emails"],
        result["zips_total"],
        result["zips_scraped"],
    ) == (
        0,
        0,
        3,
        0,
    )


def test_a_refresh_follows_later_writes(pg: Conn, campaign: str) -> None:
    first = ok(pg, "update_campaign_statistics", p_campaign_id=campaign)
    add_businesses(pg, campaign, [apify_item("late", 1)])
    second = ok(pg, "update_campaign_statistics", p_campaign_id=campaign)
    assert (first["total_businesses"], second["total_businesses"]) == (0, 1)
    assert second["updated_at"] > first["updated_at"]
    third = ok(pg, "update_campaign_statistics", p_campaign_id=campaign)
    assert {k: v for k, v in third.items() if k != "updated_at"} == {
        k: v for k, v in second.items() if k != "updated_at"
    }


def test_the_client_raises_for_an_unknown_campaign(database: Database) -> None:
    with pytest.raises(ReferencedRecordNotFoundError, match="Campaign not found"):
        database.call("update_campaign_statistics", p_campaign_id=UNKNOWN_ID)


BAD_INPUTS: list[tuple[str, Any, str | None, str, str]] = [
    ("campaign-null", None, "p_campaign_id", "is required", "22023"),
    ("campaign-unknown", UNKNOWN_ID, None, "Campaign not found", "23503"),
]


@pytest.mark.parametrize(
    ("campaign_id", "field", "fragment", "code"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_rejected_and_writes_nothing(
    shared: Conn, shared_seed: Seed, campaign_id: Any, field: str | None, fragment: str, code: str
) -> None:
    assert_rejected(
        shared, "update_campaign_statistics", field, fragment, code=code, p_campaign_id=campaign_id
    )
