"""update_coverage_status: marks one ZIP of a campaign scraped, with its results, or failed with
its reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from leadledger.db import Database, ReferencedRecordNotFoundError
from tests.campaigns.conftest import (
    SEED_CAMPAIGN,
    SEED_OTHER_CAMPAIGN,
    UNKNOWN_ID,
    Conn,
    Seed,
    assert_rejected,
    call_sql,
    ok,
    resolve,
    rows,
    value,
)

COVERAGE = """
SELECT zip_code, status, businesses_found, emails_found, actual_cost, scraped_at IS NOT NULL AS scraped
  FROM gmaps_campaign_coverage WHERE campaign_id = %s ORDER BY zip_code
"""


def test_marks_the_zip_scraped_with_its_results(pg: Conn, campaign: str) -> None:
    result = call_sql(
        pg,
        "update_coverage_status",
        p_campaign_id=campaign,
        p_zip_code="78702",
        p_businesses_found=42,
        p_emails_found=17,
        p_actual_cost=Decimal("0.168"),
    )
    assert result == {
        "success": True,
        "campaign_id": campaign,
        "zip_code": "78702",
        "status": "scraped",
        "businesses_found": 42,
        "emails_found": 17,
        "actual_cost": Decimal("0.168000"),
        "scraped_at": result["scraped_at"],
        "failed_at": None,
        "error": None,
    }
    assert rows(pg, COVERAGE, campaign) == [
        {
            "zip_code": "78701",
            "status": "pending",
            "businesses_found": None,
            "emails_found": None,
            "actual_cost": None,
            "scraped": False,
        },
        {
            "zip_code": "78702",
            "status": "scraped",
            "businesses_found": 42,
            "emails_found": 17,
            "actual_cost": Decimal("0.168"),
            "scraped": True,
        },
        {
            "zip_code": "78703",
            "status": "pending",
            "businesses_found": None,
            "emails_found": None,
            "actual_cost": None,
            "scraped": False,
        },
    ]
    # The ZIP's cost is its own record; the campaign's total is kept by track_campaign_cost only.
    assert value(pg, "SELECT actual_cost FROM gmaps_campaigns WHERE id = %s", campaign) == 0


def test_a_repeat_call_overwrites_the_results(pg: Conn, campaign: str) -> None:
    first = ok(
        pg,
        "update_coverage_status",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses_found=10,
        p_emails_found=5,
        p_actual_cost=Decimal("0.04"),
    )
    second = ok(
        pg,
        "update_coverage_status",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses_found=0,
        p_emails_found=0,
        p_actual_cost=0,
    )
    assert second["scraped_at"] >= first["scraped_at"]
    assert rows(pg, COVERAGE, campaign)[0] == {
        "zip_code": "78701",
        "status": "scraped",
        "businesses_found": 0,
        "emails_found": 0,
        "actual_cost": Decimal("0"),
        "scraped": True,
    }
    assert value(pg, "SELECT count(*) FROM gmaps_campaign_coverage") == 3


def test_the_client_raises_for_a_zip_outside_the_campaign(database: Database, campaign: str) -> None:
    with pytest.raises(ReferencedRecordNotFoundError) as info:
        database.call(
            "update_coverage_status",
            p_campaign_id=campaign,
            p_zip_code="10001",
            p_businesses_found=1,
            p_emails_found=0,
            p_actual_cost=0,
        )
    assert info.value.message == "ZIP code 10001 is not part of this campaign"


BAD_INPUTS: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    ("campaign-null", {"p_campaign_id": None}, "p_campaign_id", "is required", "22023"),
    ("campaign-unknown", {"p_campaign_id": UNKNOWN_ID}, None, "Campaign not found", "23503"),
    ("zip-null", {"p_zip_code": None}, "p_zip_code", "got nothing", "22023"),
    ("zip-short", {"p_zip_code": "7870"}, "p_zip_code", "5 digits", "22023"),
    ("zip-letters", {"p_zip_code": "ABCDE"}, "p_zip_code", "5 digits", "22023"),
    (
        "zip-not-covered",
        {"p_zip_code": "10001"},
        None,
        "ZIP code 10001 is not part of this campaign",
        "23503",
    ),
    ("zip-of-another-campaign", {"p_zip_code": "90210"}, None, "ZIP code 90210 is not part", "23503"),
    (
        "zip-wrong-campaign",
        {"p_campaign_id": SEED_OTHER_CAMPAIGN},
        None,
        "ZIP code 78701 is not part",
        "23503",
    ),
    ("found-null", {"p_businesses_found": None}, "p_businesses_found", "non-negative", "22023"),
    ("found-negative", {"p_businesses_found": -1}, "p_businesses_found", "non-negative", "22023"),
    ("emails-null", {"p_emails_found": None}, "p_emails_found", "non-negative", "22023"),
    ("emails-negative", {"p_emails_found": -2}, "p_emails_found", "non-negative", "22023"),
    ("cost-null", {"p_actual_cost": None}, "p_actual_cost", "got nothing", "22023"),
    ("cost-negative", {"p_actual_cost": Decimal("-0.01")}, "p_actual_cost", "non-negative", "22023"),
    ("cost-nan", {"p_actual_cost": Decimal("NaN")}, "p_actual_cost", "got NaN", "22023"),
    ("cost-too-large", {"p_actual_cost": Decimal("1e8")}, "p_actual_cost", "less than 100000000", "22023"),
    (
        "cost-too-precise",
        {"p_actual_cost": Decimal("0.1234567")},
        "p_actual_cost",
        "6 decimal places",
        "22023",
    ),
    ("status-unknown", {"p_status": "pending"}, "p_status", "must be scraped or failed", "22023"),
    ("status-null", {"p_status": None}, "p_status", "got nothing", "22023"),
    (
        "failed-without-reason",
        {"p_status": "failed"},
        "p_error",
        "is required when p_status is failed",
        "22023",
    ),
    ("failed-blank-reason", {"p_status": "failed", "p_error": "  "}, "p_error", "is required", "22023"),
    ("scraped-with-error", {"p_error": "oops"}, "p_error", "only for p_status failed", "22023"),
]


def test_a_zip_can_fail_with_its_reason_be_counted_and_be_scraped_later(pg: Conn, campaign: str) -> None:
    failed = ok(
        pg,
        "update_coverage_status",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses_found=0,
        p_emails_found=0,
        p_actual_cost=Decimal("0.01"),
        p_status="failed",
        p_error="Actor run failed: TIMED-OUT",
    )
    assert (failed["status"], failed["error"], failed["scraped_at"]) == (
        "failed",
        "Actor run failed: TIMED-OUT",
        None,
    )
    assert failed["failed_at"] is not None
    stats = ok(pg, "update_campaign_statistics", p_campaign_id=campaign)
    assert (stats["zips_failed"], stats["zips_scraped"]) == (1, 0)
    overview = ok(pg, "get_campaign_overview", p_campaign_id=campaign)
    assert overview["coverage"]["zips_failed"] == 1

    scraped = ok(
        pg,
        "update_coverage_status",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses_found=3,
        p_emails_found=1,
        p_actual_cost=Decimal("0.02"),
    )
    assert (scraped["status"], scraped["error"], scraped["failed_at"]) == ("scraped", None, None)
    stats = ok(pg, "update_campaign_statistics", p_campaign_id=campaign)
    assert (stats["zips_failed"], stats["zips_scraped"]) == (0, 1)


@pytest.mark.parametrize(
    ("params", "field", "fragment", "code"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_rejected_and_writes_nothing(
    shared: Conn, shared_seed: Seed, params: dict[str, Any], field: str | None, fragment: str, code: str
) -> None:
    call = resolve(
        shared_seed,
        {
            "p_campaign_id": SEED_CAMPAIGN,
            "p_zip_code": "78701",
            "p_businesses_found": 1,
            "p_emails_found": 1,
            "p_actual_cost": Decimal("0.01"),
            **params,
        },
    )
    assert_rejected(shared, "update_coverage_status", field, fragment, code=code, **call)
