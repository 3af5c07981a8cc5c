"""Issue 8, campaign side: the document's shapes (a creator given as an email, the enrichment
read's columns, attempts counted for real) and the review's findings (a malformed repeat no
longer fails the valid item, an overflowing lease comes back as the envelope)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.campaigns.conftest import (
    Conn,
    add_businesses,
    apify_item,
    assert_rejected,
    business,
    business_id,
    call_sql,
    fetch_sql,
    new_campaign,
    ok,
    one,
    table_state,
    value,
)

#: 000 §1.8, in its order; more columns may follow.
DOCUMENT_COLUMNS = [
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
    "facebook_url",
    "linkedin_url",
    "enrichment_status",
    "enrichment_attempts",
    "needs_enrichment",
]


# ---------------------------------------------------------------------------------------------
# created_by: a user id or an email
# ---------------------------------------------------------------------------------------------


def test_a_creator_given_as_an_email_is_stored_lower_cased(pg: Conn) -> None:
    campaign = new_campaign(pg, created_by=" User@Example.com ")
    row = one(pg, "SELECT created_by, created_by_email FROM gmaps_campaigns WHERE id = %s", campaign)
    assert row == {"created_by": None, "created_by_email": "user@example.com"}


def test_a_creator_given_as_a_user_id_is_stored_as_one(pg: Conn) -> None:
    user = str(uuid.uuid4())
    campaign = new_campaign(pg, created_by=user)
    row = one(pg, "SELECT created_by::text, created_by_email FROM gmaps_campaigns WHERE id = %s", campaign)
    assert row == {"created_by": user, "created_by_email": None}


@pytest.mark.parametrize("creator", ["someone", "a@b", 42, "not-a-uuid-1234"])
def test_a_creator_that_is_neither_is_refused_naming_the_field(pg: Conn, creator: Any) -> None:
    assert_rejected(
        pg,
        "create_campaign_with_coverage",
        "p_campaign_data.created_by",
        "a user id (UUID) or an email address",
        p_campaign_data={"name": "x", "created_by": creator},
        p_zip_codes=["78701"],
    )


# ---------------------------------------------------------------------------------------------
# get_businesses_for_enrichment: the document's columns, attempts counted for real
# ---------------------------------------------------------------------------------------------


def test_the_enrichment_read_has_the_documents_columns_in_order(pg: Conn, campaign: str) -> None:
    add_businesses(pg, campaign, [apify_item("p1", 1)])
    for kind in ("facebook", "linkedin"):
        found = fetch_sql(pg, "get_businesses_for_enrichment", p_campaign_id=campaign, p_enrichment_type=kind)
        assert list(found[0])[: len(DOCUMENT_COLUMNS)] == DOCUMENT_COLUMNS
        assert (
            found[0]["enrichment_status"],
            found[0]["enrichment_attempts"],
            found[0]["needs_enrichment"],
        ) == (
            "pending",
            0,
            True,
        )


def _attempts(pg: Conn, bid: str) -> tuple[int, int]:
    row = business(pg, bid)
    return row["facebook_enrichment_attempts"], row["linkedin_enrichment_attempts"]


def test_attempts_count_claims_expired_claims_and_saves_without_a_claim(pg: Conn, campaign: str) -> None:
    add_businesses(pg, campaign, [apify_item("p1", 1)])
    bid = business_id(pg, campaign, "p1")

    def claim(lease: str = "5 minutes") -> int:
        result = ok(
            pg,
            "claim_businesses_for_enrichment",
            p_campaign_id=campaign,
            p_enrichment_type="facebook",
            p_worker="w1",
            p_lease=lease,
        )
        return int(result["claimed"])

    assert claim() == 1
    assert _attempts(pg, bid) == (1, 0)  # a claim is an attempt
    pg.execute("UPDATE gmaps_enrichment_leases SET expires_at = now() - interval '1 second'")
    assert claim() == 1
    assert _attempts(pg, bid) == (2, 0)  # the first claim expired unsaved: the second is another attempt
    ok(
        pg,
        "update_enrichment_batch",
        p_enrichment_type="facebook",
        p_enrichments=[{"business_id": bid, "status": "failed"}],
    )
    assert _attempts(pg, bid) == (2, 0)  # saved under the live claim: counted when claimed
    assert value(pg, "SELECT count(*) FROM gmaps_enrichment_leases") == 0

    ok(
        pg,
        "update_enrichment_batch",
        p_enrichment_type="linkedin",
        p_enrichments=[{"business_id": bid, "status": "not_found"}],
    )
    assert _attempts(pg, bid) == (2, 1)  # a save without a claim is an attempt of its own
    read = fetch_sql(
        pg, "get_businesses_for_enrichment", p_campaign_id=campaign, p_enrichment_type="facebook"
    )
    assert read == []  # failed: no longer pending


def test_a_save_after_an_expired_claim_counts_as_an_attempt(pg: Conn, campaign: str) -> None:
    add_businesses(pg, campaign, [apify_item("p1", 1)])
    bid = business_id(pg, campaign, "p1")
    ok(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="linkedin",
        p_worker="w",
    )
    pg.execute("UPDATE gmaps_enrichment_leases SET expires_at = now() - interval '1 second'")
    ok(
        pg,
        "save_linkedin_enrichment",
        p_business_id=bid,
        p_campaign_id=campaign,
        p_enrichment={"company_name": "X"},
    )
    assert _attempts(pg, bid) == (0, 2)


# ---------------------------------------------------------------------------------------------
# Review findings
# ---------------------------------------------------------------------------------------------


def test_a_malformed_item_repeating_a_business_does_not_fail_the_valid_one(pg: Conn, campaign: str) -> None:
    add_businesses(pg, campaign, [apify_item("p1", 1, emails=[])])
    bid = business_id(pg, campaign, "p1")
    for malformed_first in (True, False):
        malformed = {"business_id": bid, "emails": "not a list"}
        valid = {
            "business_id": bid,
            "facebook_url": "https://facebook.com/p1",
            "primary_email": "a@p1.example.com",
        }
        items = [malformed, valid] if malformed_first else [valid, malformed]
        result = ok(pg, "update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=items)
        assert (result["updated"], result["failed"]) == (1, 1)
        assert [(e["index"], e["reason"]) for e in result["errors"]] == [
            (0 if malformed_first else 1, "emails: must be an array of strings")
        ]
        assert business(pg, bid)["facebook_url"] == "https://facebook.com/p1"
    # Two valid items for one business: the second is still the repeat.
    twice = ok(
        pg,
        "update_enrichment_batch",
        p_enrichment_type="facebook",
        p_enrichments=[{"business_id": bid}, {"business_id": bid}],
    )
    assert [e["reason"] for e in twice["errors"]] == ["business_id: repeated in this batch"]


@pytest.mark.parametrize("lease", ["100000000 years", "178000000 years", "-1 second"])
def test_an_overflowing_or_negative_lease_comes_back_as_the_envelope(
    pg: Conn, campaign: str, lease: str
) -> None:
    add_businesses(pg, campaign, [apify_item("p1", 1)])
    before = table_state(pg)
    result = call_sql(
        pg,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="w",
        p_lease=lease,
    )
    assert (result["success"], result["error_code"]) == (False, "22023"), result
    assert result["error"].startswith("p_lease: ")
    assert table_state(pg) == before
