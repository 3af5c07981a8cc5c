"""get_businesses_for_enrichment (a plain read) and claim_businesses_for_enrichment (leases)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from leadledger.db import Database, ReferencedRecordNotFoundError, ValidationError
from tests.campaigns.conftest import (
    SEED_CAMPAIGN,
    UNKNOWN_ID,
    Conn,
    Seed,
    add_businesses,
    apify_item,
    assert_rejected,
    call_sql,
    ok,
    resolve,
    rows,
    table_state,
)

BRIEF_KEYS = {
    "business_id",
    "campaign_id",
    "place_id",
    "name",
    "address",
    "city",
    "state",
    "postal_code",
    "phone",
    "website",
    "email",
    "email_source",
    "facebook_url",
    "linkedin_url",
    "category",
}


def five_businesses(pg: Conn, campaign: str) -> list[str]:
    add_businesses(pg, campaign, [apify_item(f"p{n}", n) for n in range(5)])
    return [str(r["id"]) for r in rows(pg, "SELECT id FROM gmaps_businesses ORDER BY created_at, id")]


def pending(pg: Conn, campaign: str, kind: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    return rows(
        pg, "SELECT * FROM get_businesses_for_enrichment(%s, %s, %s, %s)", campaign, kind, limit, offset
    )


def test_get_lists_pending_businesses_oldest_first_in_pages(pg: Conn, campaign: str) -> None:
    ids = five_businesses(pg, campaign)
    first = pending(pg, campaign, "facebook")
    assert [str(r["business_id"]) for r in first] == ids
    n = int(first[0]["place_id"][1:])
    assert (first[0]["name"], first[0]["email"]) == (
        f"Bright Smile Dental {n}",
        f"info{n}@brightsmile.example.com",
    )
    assert first[0]["created_at"] is not None

    pages = [pending(pg, campaign, "facebook", 2, offset) for offset in (0, 2, 4, 6)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert [str(r["business_id"]) for p in pages for r in p] == ids

    ok(pg, "update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=[{"business_id": ids[1]}])
    ok(
        pg,
        "update_enrichment_batch",
        p_enrichment_type="facebook",
        p_enrichments=[{"business_id": ids[3], "status": "failed"}],
    )
    assert [str(r["business_id"]) for r in pending(pg, campaign, "facebook")] == [ids[0], ids[2], ids[4]]
    assert [str(r["business_id"]) for r in pending(pg, campaign, "linkedin")] == ids  # independent per type


def test_get_through_the_client(database: Database, pg: Conn, campaign: str) -> None:
    ids = five_businesses(pg, campaign)
    found = database.fetch(
        "get_businesses_for_enrichment", p_campaign_id=campaign, p_enrichment_type="linkedin", p_limit=3
    )
    assert [str(r["business_id"]) for r in found] == ids[:3]
    with pytest.raises(ReferencedRecordNotFoundError, match="Campaign not found"):
        database.fetch(
            "get_businesses_for_enrichment", p_campaign_id=UNKNOWN_ID, p_enrichment_type="facebook"
        )
    with pytest.raises(ValidationError) as info:
        database.fetch(
            "get_businesses_for_enrichment", p_campaign_id=campaign, p_enrichment_type="facebook", p_offset=-1
        )
    assert info.value.message.startswith("p_offset: ")


GET_BAD_INPUTS: list[tuple[str, dict[str, Any], str | None, str]] = [
    ("campaign-null", {"p_campaign_id": None}, "p_campaign_id", "is required"),
    ("type-null", {"p_enrichment_type": None}, "p_enrichment_type", "got nothing"),
    ("type-unknown", {"p_enrichment_type": "instagram"}, "p_enrichment_type", "got 'instagram'"),
    ("limit-zero", {"p_limit": 0}, "p_limit", "between 1 and 1000"),
    ("limit-high", {"p_limit": 1001}, "p_limit", "between 1 and 1000"),
    ("limit-null", {"p_limit": None}, "p_limit", "between 1 and 1000"),
    ("offset-negative", {"p_offset": -1}, "p_offset", "must not be negative"),
    ("offset-null", {"p_offset": None}, "p_offset", "must not be negative"),
]


@pytest.mark.parametrize(
    ("params", "field", "fragment"), [c[1:] for c in GET_BAD_INPUTS], ids=[c[0] for c in GET_BAD_INPUTS]
)
def test_get_bad_input_raises_22023_naming_the_field(
    shared: Conn, shared_seed: Seed, params: dict[str, Any], field: str, fragment: str
) -> None:
    call = {"p_campaign_id": shared_seed.campaign_id, "p_enrichment_type": "facebook", **params}
    before = table_state(shared)
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        rows(
            shared,
            "SELECT * FROM get_businesses_for_enrichment(%s, %s, %s, %s)",
            call["p_campaign_id"],
            call["p_enrichment_type"],
            call.get("p_limit", 100),
            call.get("p_offset", 0),
        )
    message = info.value.diag.message_primary or ""
    assert message.startswith(f"{field}: ")
    assert fragment in message
    assert table_state(shared) == before


def test_a_claim_hands_out_pending_businesses_once(pg: Conn, campaign: str) -> None:
    ids = five_businesses(pg, campaign)
    first = call_sql(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="worker-1",
        p_limit=3,
    )
    assert {k: first[k] for k in ("success", "campaign_id", "enrichment_type", "worker", "claimed")} == {
        "success": True,
        "campaign_id": campaign,
        "enrichment_type": "facebook",
        "worker": "worker-1",
        "claimed": 3,
    }
    assert [b["business_id"] for b in first["businesses"]] == ids[:3]
    assert set(first["businesses"][0]) == BRIEF_KEYS
    brief = first["businesses"][0]
    assert brief["email"] == f"info{brief['place_id'][1:]}@brightsmile.example.com"
    assert (brief["email_source"], brief["campaign_id"], brief["category"]) == (
        "google_maps",
        campaign,
        "Dentist",
    )
    leases = rows(
        pg, "SELECT business_id::text, enrichment_type, worker, expires_at FROM gmaps_enrichment_leases"
    )
    assert {r["business_id"] for r in leases} == set(ids[:3])
    assert {(r["enrichment_type"], r["worker"]) for r in leases} == {("facebook", "worker-1")}
    # Compare instants, not text: jsonb drops trailing zeros of the fraction ("…12345+00:00").
    expires_at = datetime.fromisoformat(first["lease_expires_at"])
    assert all(r["expires_at"] == expires_at for r in leases)

    second = ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="worker-2",
        p_limit=100,
    )
    assert [b["business_id"] for b in second["businesses"]] == ids[3:]
    third = ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="worker-3",
    )
    assert (third["claimed"], third["businesses"]) == (0, [])
    # The same worker asking again gets nothing new either: its leases are live.
    again = ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="worker-1",
    )
    assert again["claimed"] == 0
    # LinkedIn leases are separate.
    linkedin = ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="linkedin",
        p_worker="worker-3",
    )
    assert linkedin["claimed"] == 5


def test_enriched_businesses_are_not_claimed(pg: Conn, campaign: str) -> None:
    ids = five_businesses(pg, campaign)
    ok(
        pg,
        "update_enrichment_batch",
        p_enrichment_type="linkedin",
        p_enrichments=[{"business_id": b, "status": "not_found"} for b in ids[:4]],
    )
    claimed = ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="linkedin",
        p_worker="w",
    )
    assert [b["business_id"] for b in claimed["businesses"]] == ids[4:]


def test_an_expired_lease_is_taken_over(pg: Conn, campaign: str) -> None:
    ids = five_businesses(pg, campaign)
    short = ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="crashed",
        p_limit=2,
        p_lease=timedelta(milliseconds=50),
    )
    assert [b["business_id"] for b in short["businesses"]] == ids[:2]
    time.sleep(0.1)
    taken = ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="rescuer",
        p_lease="10 minutes",
    )
    assert [b["business_id"] for b in taken["businesses"]] == ids
    workers = {r["worker"] for r in rows(pg, "SELECT worker FROM gmaps_enrichment_leases")}
    assert workers == {"rescuer"}
    assert len(rows(pg, "SELECT 1 FROM gmaps_enrichment_leases")) == 5


def test_a_claim_on_a_campaign_without_businesses_is_empty(pg: Conn, campaign: str) -> None:
    result = ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="w",
    )
    assert (result["claimed"], result["businesses"]) == (0, [])


def test_the_client_raises_for_a_bad_lease(database: Database, pg: Conn, campaign: str) -> None:
    with pytest.raises(ValidationError) as info:
        database.call(
            "claim_businesses_for_enrichment",
            p_campaign_id=campaign,
            p_enrichment_type="facebook",
            p_worker="w",
            p_lease=timedelta(0),
        )
    assert info.value.message.startswith("p_lease: ")


CLAIM_BAD_INPUTS: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    ("campaign-null", {"p_campaign_id": None}, "p_campaign_id", "is required", "22023"),
    ("campaign-unknown", {"p_campaign_id": UNKNOWN_ID}, None, "Campaign not found", "23503"),
    ("type-null", {"p_enrichment_type": None}, "p_enrichment_type", "got nothing", "22023"),
    ("type-unknown", {"p_enrichment_type": "email"}, "p_enrichment_type", "got 'email'", "22023"),
    ("worker-null", {"p_worker": None}, "p_worker", "is required", "22023"),
    ("worker-blank", {"p_worker": "   "}, "p_worker", "is required", "22023"),
    ("limit-zero", {"p_limit": 0}, "p_limit", "between 1 and 1000", "22023"),
    ("limit-negative", {"p_limit": -5}, "p_limit", "between 1 and 1000", "22023"),
    ("limit-high", {"p_limit": 1001}, "p_limit", "between 1 and 1000", "22023"),
    ("limit-null", {"p_limit": None}, "p_limit", "between 1 and 1000", "22023"),
    ("lease-zero", {"p_lease": timedelta(0)}, "p_lease", "more than 0", "22023"),
    ("lease-negative", {"p_lease": timedelta(seconds=-1)}, "p_lease", "more than 0", "22023"),
    ("lease-two-days", {"p_lease": "2 days"}, "p_lease", "at most 1 day", "22023"),
    ("lease-null", {"p_lease": None}, "p_lease", "more than 0", "22023"),
]


@pytest.mark.parametrize(
    ("params", "field", "fragment", "code"),
    [c[1:] for c in CLAIM_BAD_INPUTS],
    ids=[c[0] for c in CLAIM_BAD_INPUTS],
)
def test_claim_bad_input_is_rejected_and_writes_nothing(
    shared: Conn, shared_seed: Seed, params: dict[str, Any], field: str | None, fragment: str, code: str
) -> None:
    call = resolve(
        shared_seed,
        {
            "p_campaign_id": SEED_CAMPAIGN,
            "p_enrichment_type": "facebook",
            "p_worker": "w",
            "p_limit": 10,
            **params,
        },
    )
    assert_rejected(shared, "claim_businesses_for_enrichment", field, fragment, code=code, **call)
