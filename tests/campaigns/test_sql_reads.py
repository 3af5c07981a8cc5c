"""The read functions get_campaign_overview and list_campaigns, and the privileges of every
campaign function."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from leadledger.db import Database, ReferencedRecordNotFoundError, ValidationError
from tests.campaigns.conftest import (
    STATUSES,
    UNKNOWN_ID,
    Conn,
    Seed,
    add_businesses,
    apify_item,
    assert_rejected,
    call_sql,
    drive_to,
    new_campaign,
    ok,
    rows,
    table_state,
)

STATISTIC_COLUMNS = {
    "total_businesses",
    "total_emails",
    "total_facebook_pages",
    "total_linkedin_profiles",
    "total_verified_emails",
    "zips_scraped",
    "statistics_updated_at",
}


def test_the_overview_gathers_campaign_statistics_coverage_costs_and_history(pg: Conn, campaign: str) -> None:
    add_businesses(pg, campaign, [apify_item("p1", 1), apify_item("p2", 2)])
    ok(
        pg,
        "update_coverage_status",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses_found=2,
        p_emails_found=2,
        p_actual_cost=Decimal("0.008"),
    )
    for service, items, cost in (
        ("google_maps", 2, "0.008"),
        ("facebook", 1, "0.01"),
        ("facebook", 1, "0.02"),
    ):
        ok(
            pg,
            "track_campaign_cost",
            p_campaign_id=campaign,
            p_service=service,
            p_items_processed=items,
            p_cost_usd=Decimal(cost),
        )
    ok(pg, "update_campaign_statistics", p_campaign_id=campaign)
    ok(pg, "transition_campaign_status", p_campaign_id=campaign, p_new_status="running", p_reason="go")
    ok(pg, "transition_campaign_status", p_campaign_id=campaign, p_new_status="paused")

    result = call_sql(pg, "get_campaign_overview", p_campaign_id=campaign)
    assert result["success"] is True
    assert set(result) == {
        "success",
        "campaign",
        "statistics",
        "coverage",
        "costs_by_service",
        "status_history",
    }
    assert result["campaign"]["id"] == campaign
    assert result["campaign"]["status"] == "paused"
    assert result["campaign"]["actual_cost"] == Decimal("0.038")
    assert not STATISTIC_COLUMNS & set(result["campaign"])
    statistics = result["statistics"]
    assert statistics.pop("updated_at") is not None
    assert statistics == {
        "total_businesses": 2,
        "total_emails": 2,
        "total_facebook_pages": 2,
        "total_linkedin_profiles": 0,
        "total_verified_emails": 0,
    }
    assert result["coverage"] == {
        "zips_total": 3,
        "zips_scraped": 1,
        "zips_failed": 0,
        "zips_pending": 2,
        "percent_complete": Decimal("33.3"),
        "businesses_found": 2,
        "emails_found": 2,
    }
    assert result["costs_by_service"] == {
        "google_maps": {"calls": 1, "items_processed": 2, "cost_usd": Decimal("0.008")},
        "facebook": {"calls": 2, "items_processed": 2, "cost_usd": Decimal("0.03")},
    }
    assert [(h["from_status"], h["to_status"], h["reason"]) for h in result["status_history"]] == [
        ("draft", "running", "go"),
        ("running", "paused", None),
    ]


def test_the_overview_of_a_fresh_campaign(pg: Conn, campaign: str) -> None:
    result = ok(pg, "get_campaign_overview", p_campaign_id=campaign)
    assert result["costs_by_service"] == {}
    assert result["status_history"] == []
    assert result["coverage"]["percent_complete"] == 0
    assert result["statistics"]["updated_at"] is None


def test_the_overview_through_the_client(database: Database, campaign: str) -> None:
    assert (
        database.call("get_campaign_overview", p_campaign_id=campaign)["campaign"]["name"]
        == "Austin dentists"
    )
    with pytest.raises(ReferencedRecordNotFoundError, match="Campaign not found"):
        database.call("get_campaign_overview", p_campaign_id=UNKNOWN_ID)


@pytest.mark.parametrize(
    ("campaign_id", "field", "fragment", "code"),
    [(None, "p_campaign_id", "is required", "22023"), (UNKNOWN_ID, None, "Campaign not found", "23503")],
    ids=["campaign-null", "campaign-unknown"],
)
def test_overview_bad_input(
    shared: Conn, shared_seed: Seed, campaign_id: Any, field: str | None, fragment: str, code: str
) -> None:
    assert_rejected(shared, "get_campaign_overview", field, fragment, code=code, p_campaign_id=campaign_id)


def listing(
    pg: Conn, limit: int = 50, before: tuple[datetime, str] | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    created, last_id = before if before else (None, None)
    return rows(pg, "SELECT * FROM list_campaigns(%s, %s, %s, %s)", limit, created, last_id, status)


def test_list_campaigns_newest_first_in_keyset_pages(pg: Conn) -> None:
    ids = [new_campaign(pg, f"c{n}") for n in range(5)]
    everything = listing(pg)
    assert [str(r["id"]) for r in everything] == ids[::-1]
    assert set(everything[0]) == {
        "id",
        "name",
        "status",
        "location",
        "target_zip_count",
        "zips_scraped",
        "total_businesses",
        "total_emails",
        "estimated_cost",
        "actual_cost",
        "created_at",
    }

    seen: list[str] = []
    before: tuple[datetime, str] | None = None
    while True:
        page = listing(pg, 2, before)
        if not page:
            break
        assert len(page) <= 2
        seen += [str(r["id"]) for r in page]
        before = (page[-1]["created_at"], str(page[-1]["id"]))
    assert seen == ids[::-1]

    # A campaign created while paging does not shift the later pages.
    first_page = listing(pg, 2)
    new_campaign(pg, "late")
    second_page = listing(pg, 2, (first_page[-1]["created_at"], str(first_page[-1]["id"])))
    assert [str(r["id"]) for r in second_page] == ids[::-1][2:4]


def test_list_campaigns_filters_by_status(pg: Conn) -> None:
    by_status = {}
    for status in STATUSES:
        campaign = new_campaign(pg, status)
        drive_to(pg, campaign, status)
        by_status[status] = campaign
    for status, campaign in by_status.items():
        assert [str(r["id"]) for r in listing(pg, status=status)] == [campaign]


def test_list_campaigns_through_the_client(database: Database, pg: Conn) -> None:
    new_campaign(pg)
    assert len(database.fetch("list_campaigns")) == 1
    with pytest.raises(ValidationError) as info:
        database.fetch("list_campaigns", p_status="archived")
    assert info.value.message == "p_status: unknown status 'archived'"


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"p_limit": 0}, "p_limit", "between 1 and 500"),
        ({"p_limit": 501}, "p_limit", "between 1 and 500"),
        ({"p_limit": None}, "p_limit", "between 1 and 500"),
        ({"p_before_created_at": datetime(2026, 1, 1).astimezone()}, "p_before_id", "go together"),
        ({"p_before_id": UNKNOWN_ID}, "p_before_id", "go together"),
        ({"p_status": "archived"}, "p_status", "unknown status 'archived'"),
    ],
    ids=[
        "limit-zero",
        "limit-high",
        "limit-null",
        "created-without-id",
        "id-without-created",
        "status-unknown",
    ],
)
def test_list_campaigns_bad_input(
    shared: Conn, shared_seed: Seed, params: dict[str, Any], field: str, fragment: str
) -> None:
    call = {"p_limit": 10, "p_before_created_at": None, "p_before_id": None, "p_status": None, **params}
    before = table_state(shared)
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        rows(shared, "SELECT * FROM list_campaigns(%s, %s, %s, %s)", *call.values())
    message = info.value.diag.message_primary or ""
    assert message.startswith(f"{field}: ")
    assert fragment in message
    assert table_state(shared) == before


CAMPAIGN_FUNCTIONS = (
    "create_campaign_with_coverage",
    "insert_businesses_batch",
    "update_campaign_statistics",
    "track_campaign_cost",
    "update_coverage_status",
    "update_enrichment_batch",
    "save_facebook_enrichment",
    "save_linkedin_enrichment",
    "update_email_verification",
    "get_businesses_for_enrichment",
    "claim_businesses_for_enrichment",
    "is_valid_status_transition",
    "transition_campaign_status",
    "get_campaign_overview",
    "list_campaigns",
)


def test_only_the_service_role_may_execute_the_campaign_functions(shared: Conn) -> None:
    found = rows(
        shared,
        """
        SELECT p.proname, p.prosecdef,
               has_function_privilege('leadledger_service', p.oid, 'EXECUTE') AS service,
               coalesce(bool_or(a.grantee = 0), false) AS public,
               array_to_string(p.proconfig, ',') AS config
          FROM pg_proc p
          LEFT JOIN LATERAL aclexplode(p.proacl) a ON true
         WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY(%s)
         GROUP BY p.oid
        """,
        list(CAMPAIGN_FUNCTIONS),
    )
    assert sorted(r["proname"] for r in found) == sorted(CAMPAIGN_FUNCTIONS)
    for r in found:
        assert (r["prosecdef"], r["service"], r["public"]) == (True, True, False), r
        assert "search_path=pg_catalog, pg_temp" in r["config"], r
        if r["proname"] not in ("is_valid_status_transition",):
            assert "statement_timeout=" in r["config"], r
