"""Facebook and LinkedIn enrichment: update_enrichment_batch, save_facebook_enrichment,
save_linkedin_enrichment, and the email source priority linkedin > facebook > google_maps."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from leadledger.db import Database, ReferencedRecordNotFoundError, ValidationError
from tests.campaigns.conftest import (
    SEED_BUSINESS,
    SEED_CAMPAIGN,
    SEED_OTHER_BUSINESS,
    SEED_OTHER_CAMPAIGN,
    UNKNOWN_ID,
    Conn,
    Seed,
    add_businesses,
    apify_item,
    assert_rejected,
    business,
    business_id,
    call_sql,
    new_campaign,
    ok,
    one,
    resolve,
    rows,
    table_counts,
    table_state,
)

FACEBOOK_ROW = """
SELECT status, facebook_url, page_name, primary_email, emails, phone_numbers, email_verification_status,
       raw_data
  FROM gmaps_facebook_enrichments WHERE business_id = %s
"""
LINKEDIN_ROW = """
SELECT status, linkedin_url, company_name, company_size, industry, person_name, person_title, primary_email,
       emails, phone_numbers, email_verification_status
  FROM gmaps_linkedin_enrichments WHERE business_id = %s
"""


def two_businesses(pg: Conn, campaign: str) -> tuple[str, str]:
    add_businesses(pg, campaign, [apify_item("p1", 1), apify_item("p2", 2, emails=[], facebooks=[])])
    return business_id(pg, campaign, "p1"), business_id(pg, campaign, "p2")


def test_a_facebook_batch_is_stored_and_outranks_the_google_email(pg: Conn, campaign: str) -> None:
    b1, b2 = two_businesses(pg, campaign)
    item = {
        "business_id": b1,
        "campaign_id": campaign,
        "facebook_url": "https://www.facebook.com/brightsmile.austin",
        "page_name": " Bright Smile Dental ",
        "primary_email": "Office@BrightSmile.example.com",
        "emails": ["Office@BrightSmile.example.com", "billing@brightsmile.example.com"],
        "phone_numbers": ["+1 512 555 1001"],
        "raw_data": {"pageId": "1234", "likes": 812},
    }
    result = call_sql(pg, "update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=[item])
    assert result == {"success": True, "enrichment_type": "facebook", "updated": 1, "failed": 0, "errors": []}

    assert one(pg, FACEBOOK_ROW, b1) == {
        "status": "enriched",
        "facebook_url": "https://www.facebook.com/brightsmile.austin",
        "page_name": "Bright Smile Dental",
        "primary_email": "office@brightsmile.example.com",
        "emails": ["office@brightsmile.example.com", "billing@brightsmile.example.com"],
        "phone_numbers": ["+1 512 555 1001"],
        "email_verification_status": None,
        "raw_data": {"pageId": "1234", "likes": 812},
    }
    stored = business(pg, b1)
    assert (stored["email"], stored["email_source"]) == ("office@brightsmile.example.com", "facebook")
    assert stored["facebook_url"] == "https://www.facebook.com/brightsmile.austin"
    assert (stored["facebook_enrichment_status"], stored["linkedin_enrichment_status"]) == (
        "enriched",
        "pending",
    )
    untouched = business(pg, b2)
    assert (untouched["facebook_enrichment_status"], untouched["email"]) == ("pending", None)


def test_a_linkedin_batch_reads_flat_and_nested_items(pg: Conn, campaign: str) -> None:
    b1, b2 = two_businesses(pg, campaign)
    items = [
        {
            "business_id": b1,
            "profile_url": "https://www.linkedin.com/company/bright-smile",
            "company": {"name": "Bright Smile Dental LLC", "size": "11-50", "industry": "Medical Practices"},
            "person": {"name": "Dana Ruiz", "title": "Practice Manager"},
            "emails": ["not an email", "Dana@BrightSmile.example.com"],  # the first address is taken
        },
        {
            "business_id": b2,
            "linkedin_url": "https://www.linkedin.com/company/p2",
            "company_name": "P2 Inc",
            "company_size": "2-10",
            "industry": "Dentistry",
            "person_name": "Sam Lee",
            "person_title": "Owner",
            "primary_email": "sam@p2.example.com",
            "phone_numbers": ["512-555-0000"],
        },
    ]
    result = ok(pg, "update_enrichment_batch", p_enrichment_type="linkedin", p_enrichments=items)
    assert (result["updated"], result["failed"]) == (2, 0)
    assert one(pg, LINKEDIN_ROW, b1) == {
        "status": "enriched",
        "linkedin_url": "https://www.linkedin.com/company/bright-smile",
        "company_name": "Bright Smile Dental LLC",
        "company_size": "11-50",
        "industry": "Medical Practices",
        "person_name": "Dana Ruiz",
        "person_title": "Practice Manager",
        "primary_email": "dana@brightsmile.example.com",
        "emails": ["not an email", "dana@brightsmile.example.com"],
        "phone_numbers": [],
        "email_verification_status": None,
    }
    assert one(pg, LINKEDIN_ROW, b2)["company_name"] == "P2 Inc"
    assert (business(pg, b1)["email"], business(pg, b1)["email_source"]) == (
        "dana@brightsmile.example.com",
        "linkedin",
    )
    assert business(pg, b2)["linkedin_url"] == "https://www.linkedin.com/company/p2"


def test_invalid_items_are_counted_with_index_and_reason_and_the_rest_applied(
    pg: Conn, campaign: str
) -> None:
    b1, b2 = two_businesses(pg, campaign)
    other = new_campaign(pg, "other")
    items: list[Any] = [
        {"business_id": b1, "primary_email": "ok@example.com"},
        {"business_id": UNKNOWN_ID},
        {"business_id": "not-a-uuid"},
        5,
        {"business_id": b1, "primary_email": "again@example.com"},
        {"business_id": b2, "campaign_id": other},
        {"business_id": b2, "primary_email": "nope"},
        {"business_id": b2, "emails": ["a@b.co", 1]},
        {"business_id": b2, "phone_numbers": "512"},
        {"business_id": b2, "status": "done"},
        {"business_id": b2, "raw_data": [1]},
        {"business_id": b2, "facebook_url": 5},
        {"business_id": b2, "campaign_id": "campaign-1"},
        {},
    ]
    result = ok(pg, "update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=items)
    assert (result["updated"], result["failed"]) == (1, 13)
    assert result["errors"] == [
        {"index": 1, "business_id": UNKNOWN_ID, "reason": "business_id: business not found"},
        {"index": 2, "business_id": None, "reason": "business_id: is required and must be a UUID"},
        {"index": 3, "business_id": None, "reason": "must be a JSON object"},
        {"index": 4, "business_id": b1, "reason": "business_id: repeated in this batch"},
        {"index": 5, "business_id": b2, "reason": "campaign_id: the business belongs to another campaign"},
        {"index": 6, "business_id": b2, "reason": "primary_email: must be an email address"},
        {"index": 7, "business_id": b2, "reason": "emails: must be an array of strings"},
        {"index": 8, "business_id": b2, "reason": "phone_numbers: must be an array of strings"},
        {"index": 9, "business_id": b2, "reason": "status: must be enriched, not_found or failed"},
        {"index": 10, "business_id": b2, "reason": "raw_data: must be an object"},
        {"index": 11, "business_id": b2, "reason": "facebook_url: must be a string"},
        {"index": 12, "business_id": b2, "reason": "campaign_id: must be a UUID"},
        {"index": 13, "business_id": None, "reason": "business_id: is required and must be a UUID"},
    ]
    assert business(pg, b1)["email"] == "ok@example.com"  # the first item for b1 was applied
    assert business(pg, b2)["facebook_enrichment_status"] == "pending"
    assert table_counts(pg)["gmaps_facebook_enrichments"] == 1


def test_an_empty_batch_succeeds_and_writes_nothing(pg: Conn, campaign: str) -> None:
    two_businesses(pg, campaign)
    before = table_state(pg)
    result = ok(pg, "update_enrichment_batch", p_enrichment_type="linkedin", p_enrichments=[])
    assert (result["updated"], result["failed"], result["errors"]) == (0, 0, [])
    assert table_state(pg) == before


def test_not_found_takes_the_business_out_of_the_pending_set_and_keeps_its_email(
    pg: Conn, campaign: str
) -> None:
    b1, _ = two_businesses(pg, campaign)
    ok(
        pg,
        "update_enrichment_batch",
        p_enrichment_type="linkedin",
        p_enrichments=[{"business_id": b1, "status": "not_found"}],
    )
    stored = business(pg, b1)
    assert (stored["linkedin_enrichment_status"], stored["email"], stored["email_source"]) == (
        "not_found",
        "info1@brightsmile.example.com",
        "google_maps",
    )
    assert one(pg, LINKEDIN_ROW, b1)["status"] == "not_found"
    pending = rows(pg, "SELECT business_id FROM get_businesses_for_enrichment(%s, 'linkedin')", campaign)
    assert b1 not in {str(r["business_id"]) for r in pending}


def test_a_re_enrichment_replaces_the_previous_one(pg: Conn, campaign: str) -> None:
    b1, _ = two_businesses(pg, campaign)
    ok(
        pg,
        "save_facebook_enrichment",
        p_business_id=b1,
        p_campaign_id=campaign,
        p_enrichment={
            "facebook_url": "https://facebook.com/a",
            "page_name": "A",
            "primary_email": "a@example.com",
        },
    )
    ok(
        pg,
        "save_facebook_enrichment",
        p_business_id=b1,
        p_campaign_id=campaign,
        p_enrichment={"page_name": "B", "primary_email": "b@example.com", "status": "enriched"},
    )
    assert table_counts(pg)["gmaps_facebook_enrichments"] == 1
    row = one(pg, FACEBOOK_ROW, b1)
    assert (row["page_name"], row["primary_email"], row["facebook_url"]) == ("B", "b@example.com", None)
    stored = business(pg, b1)
    # Same source, same rank: the newer Facebook email replaces the older one; the URL is kept.
    assert (stored["email"], stored["email_source"], stored["facebook_url"]) == (
        "b@example.com",
        "facebook",
        "https://facebook.com/a",
    )


def test_the_verification_status_follows_the_email_from_the_audit_log(pg: Conn, campaign: str) -> None:
    b1, _ = two_businesses(pg, campaign)
    ok(
        pg,
        "update_email_verification",
        p_business_id=b1,
        p_email="owner@example.com",
        p_verification_data={"status": "deliverable", "is_safe": True},
    )
    ok(
        pg,
        "update_email_verification",
        p_business_id=b1,
        p_email="info1@brightsmile.example.com",
        p_verification_data={"status": "risky", "is_safe": False},
    )
    assert business(pg, b1)["email_verification_status"] == "risky"

    ok(
        pg,
        "save_facebook_enrichment",
        p_business_id=b1,
        p_campaign_id=campaign,
        p_enrichment={"primary_email": "owner@example.com"},
    )
    stored = business(pg, b1)
    assert (stored["email"], stored["email_verification_status"], stored["email_is_safe"]) == (
        "owner@example.com",
        "deliverable",
        True,
    )
    assert one(pg, FACEBOOK_ROW, b1)["email_verification_status"] == "deliverable"

    ok(
        pg,
        "save_linkedin_enrichment",
        p_business_id=b1,
        p_campaign_id=campaign,
        p_enrichment={"primary_email": "never-verified@example.com"},
    )
    stored = business(pg, b1)
    assert (stored["email"], stored["email_verification_status"], stored["email_is_safe"]) == (
        "never-verified@example.com",
        None,
        None,
    )


def test_saving_an_enrichment_releases_the_lease_of_that_type(pg: Conn, campaign: str) -> None:
    b1, b2 = two_businesses(pg, campaign)
    for kind in ("facebook", "linkedin"):
        assert (
            ok(
                pg,
                "claim_businesses_for_enrichment",
                p_campaign_id=campaign,
                p_enrichment_type=kind,
                p_worker="w1",
            )["claimed"]
            == 2
        )
    ok(pg, "update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=[{"business_id": b1}])
    leases = {
        (str(r["business_id"]), r["enrichment_type"])
        for r in rows(pg, "SELECT * FROM gmaps_enrichment_leases")
    }
    assert leases == {(b2, "facebook"), (b1, "linkedin"), (b2, "linkedin")}


def test_save_functions_return_the_resulting_email(pg: Conn, campaign: str) -> None:
    b1, b2 = two_businesses(pg, campaign)
    result = call_sql(
        pg,
        "save_linkedin_enrichment",
        p_business_id=b2,
        p_campaign_id=campaign,
        p_enrichment={"linkedin_url": "https://linkedin.com/in/x", "emails": ["X@Example.com"]},
    )
    assert result == {
        "success": True,
        "business_id": b2,
        "campaign_id": campaign,
        "enrichment_type": "linkedin",
        "email": "x@example.com",
        "email_source": "linkedin",
    }
    # A Facebook email does not displace the LinkedIn one; the envelope says what the business holds.
    result = call_sql(
        pg,
        "save_facebook_enrichment",
        p_business_id=b2,
        p_campaign_id=campaign,
        p_enrichment={"primary_email": "fb@example.com"},
    )
    assert (result["email"], result["email_source"], result["enrichment_type"]) == (
        "x@example.com",
        "linkedin",
        "facebook",
    )
    assert one(pg, FACEBOOK_ROW, b2)["primary_email"] == "fb@example.com"
    assert business(pg, b1)["email_source"] == "google_maps"


def test_a_10000_item_batch(pg: Conn, campaign: str) -> None:
    add_businesses(
        pg, campaign, [{"placeId": f"p{n:05d}", "emails": [f"g{n}@example.com"]} for n in range(10000)]
    )
    ids = [str(r["id"]) for r in rows(pg, "SELECT id FROM gmaps_businesses")]
    items = [{"business_id": b, "primary_email": f"fb{n}@example.com"} for n, b in enumerate(ids)]
    result = ok(pg, "update_enrichment_batch", p_enrichment_type="facebook", p_enrichments=items)
    assert (result["updated"], result["failed"]) == (10000, 0)
    counts = one(
        pg,
        "SELECT count(*) FILTER (WHERE email_source = 'facebook') AS facebook,"
        " count(*) FILTER (WHERE facebook_enrichment_status = 'enriched') AS enriched FROM gmaps_businesses",
    )
    assert counts == {"facebook": 10000, "enriched": 10000}
    assert table_counts(pg)["gmaps_facebook_enrichments"] == 10000


def test_the_client_raises_typed_errors(database: Database, pg: Conn, campaign: str) -> None:
    b1, _ = two_businesses(pg, campaign)
    with pytest.raises(ReferencedRecordNotFoundError, match="Business not found"):
        database.call(
            "save_facebook_enrichment", p_business_id=UNKNOWN_ID, p_campaign_id=campaign, p_enrichment={}
        )
    with pytest.raises(ValidationError) as info:
        database.call(
            "save_linkedin_enrichment",
            p_business_id=b1,
            p_campaign_id=campaign,
            p_enrichment={"primary_email": "x"},
        )
    assert info.value.message == "p_enrichment.primary_email: must be an email address"


# ---------------------------------------------------------------------------------------------
# Email source priority: every arrival order of every set of sources
# ---------------------------------------------------------------------------------------------

RANK = {"google_maps": 1, "facebook": 2, "linkedin": 3}
EMAIL = {"google_maps": "maps@example.com", "facebook": "page@example.com", "linkedin": "person@example.com"}
ORDERS = [order for size in (1, 2, 3) for order in itertools.permutations(RANK, size)]


def arrive(conn: Conn, campaign: str, bid: str, source: str, via: str) -> None:
    if source == "google_maps":
        add_businesses(conn, campaign, [apify_item("the-place", 0, emails=[EMAIL[source]])])
    elif via == "batch":
        ok(
            conn,
            "update_enrichment_batch",
            p_enrichment_type=source,
            p_enrichments=[{"business_id": bid, "primary_email": EMAIL[source]}],
        )
    else:
        ok(
            conn,
            f"save_{source}_enrichment",
            p_business_id=bid,
            p_campaign_id=campaign,
            p_enrichment={"primary_email": EMAIL[source]},
        )


@pytest.mark.parametrize("via", ["batch", "single"])
@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_the_best_source_wins_whatever_the_arrival_order(
    shared: Conn, shared_seed: Seed, order: tuple[str, ...], via: str
) -> None:
    campaign = new_campaign(shared, "priority " + "-".join(order))
    add_businesses(shared, campaign, [apify_item("the-place", 0, emails=[])])
    bid = business_id(shared, campaign, "the-place")
    arrived: list[str] = []
    for source in order:
        arrive(shared, campaign, bid, source, via)
        arrived.append(source)
        best = max(arrived, key=RANK.__getitem__)
        stored = business(shared, bid)
        assert (stored["email"], stored["email_source"]) == (EMAIL[best], best), f"after {arrived}"
    # A second round in reverse changes nothing: a lower source never overwrites a higher one.
    for source in reversed(order):
        arrive(shared, campaign, bid, source, via)
    stored = business(shared, bid)
    best = max(order, key=RANK.__getitem__)
    assert (stored["email"], stored["email_source"]) == (EMAIL[best], best)


def test_a_higher_source_without_an_email_keeps_the_current_one(pg: Conn, campaign: str) -> None:
    b1, _ = two_businesses(pg, campaign)
    ok(
        pg,
        "save_facebook_enrichment",
        p_business_id=b1,
        p_campaign_id=campaign,
        p_enrichment={"primary_email": "fb@example.com"},
    )
    ok(
        pg,
        "save_linkedin_enrichment",
        p_business_id=b1,
        p_campaign_id=campaign,
        p_enrichment={"linkedin_url": "https://linkedin.com/company/x"},
    )
    stored = business(pg, b1)
    assert (stored["email"], stored["email_source"], stored["linkedin_enrichment_status"]) == (
        "fb@example.com",
        "facebook",
        "enriched",
    )


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

BATCH_BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("type-null", {"p_enrichment_type": None}, "p_enrichment_type", "got nothing"),
    ("type-unknown", {"p_enrichment_type": "twitter"}, "p_enrichment_type", "got 'twitter'"),
    ("type-empty", {"p_enrichment_type": ""}, "p_enrichment_type", "must be facebook or linkedin"),
    ("type-case", {"p_enrichment_type": "Facebook"}, "p_enrichment_type", "must be facebook or linkedin"),
    ("items-null", {"p_enrichments": None}, "p_enrichments", "must be a JSON array, got nothing"),
    ("items-object", {"p_enrichments": {"business_id": UNKNOWN_ID}}, "p_enrichments", "got object"),
    ("items-string", {"p_enrichments": Jsonb("x")}, "p_enrichments", "got string"),
    (
        "items-10001",
        {"p_enrichments": [{"business_id": UNKNOWN_ID}] * 10001},
        "p_enrichments",
        "has 10001 items; at most 10000",
    ),
]


@pytest.mark.parametrize(
    ("params", "field", "fragment"), [c[1:] for c in BATCH_BAD_INPUTS], ids=[c[0] for c in BATCH_BAD_INPUTS]
)
def test_batch_bad_input_is_rejected_and_writes_nothing(
    shared: Conn, shared_seed: Seed, params: dict[str, Any], field: str, fragment: str
) -> None:
    call = {
        "p_enrichment_type": "facebook",
        "p_enrichments": [{"business_id": shared_seed.business_id}],
        **params,
    }
    assert_rejected(shared, "update_enrichment_batch", field, fragment, **call)


SAVE_BAD_INPUTS: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    ("business-null", {"p_business_id": None}, "p_business_id", "is required", "22023"),
    ("campaign-null", {"p_campaign_id": None}, "p_campaign_id", "is required", "22023"),
    ("campaign-unknown", {"p_campaign_id": UNKNOWN_ID}, None, "Campaign not found", "23503"),
    ("business-unknown", {"p_business_id": UNKNOWN_ID}, None, "Business not found", "23503"),
    (
        "business-of-other-campaign",
        {"p_business_id": SEED_OTHER_BUSINESS},
        None,
        "Business not found",
        "23503",
    ),
    (
        "campaign-of-other-business",
        {"p_campaign_id": SEED_OTHER_CAMPAIGN},
        None,
        "Business not found",
        "23503",
    ),
    ("enrichment-null", {"p_enrichment": None}, "p_enrichment", "must be a JSON object", "22023"),
    ("enrichment-array", {"p_enrichment": [{}]}, "p_enrichment", "must be a JSON object", "22023"),
    ("enrichment-string", {"p_enrichment": Jsonb("x")}, "p_enrichment", "must be a JSON object", "22023"),
    (
        "email-invalid",
        {"p_enrichment": {"primary_email": "x@"}},
        "p_enrichment.primary_email",
        "email",
        "22023",
    ),
    ("email-number", {"p_enrichment": {"primary_email": 1}}, "p_enrichment.primary_email", "email", "22023"),
    (
        "emails-string",
        {"p_enrichment": {"emails": "a@b.co"}},
        "p_enrichment.emails",
        "array of strings",
        "22023",
    ),
    (
        "phones-numbers",
        {"p_enrichment": {"phone_numbers": [5]}},
        "p_enrichment.phone_numbers",
        "strings",
        "22023",
    ),
    ("status-unknown", {"p_enrichment": {"status": "pending"}}, "p_enrichment.status", "enriched", "22023"),
    ("raw-data-string", {"p_enrichment": {"raw_data": "x"}}, "p_enrichment.raw_data", "object", "22023"),
    ("url-number", {"p_enrichment": {"profile_url": 1}}, None, "_url: must be a string", "22023"),
]


@pytest.mark.parametrize("function", ["save_facebook_enrichment", "save_linkedin_enrichment"])
@pytest.mark.parametrize(
    ("params", "field", "fragment", "code"),
    [c[1:] for c in SAVE_BAD_INPUTS],
    ids=[c[0] for c in SAVE_BAD_INPUTS],
)
def test_save_bad_input_is_rejected_and_writes_nothing(
    shared: Conn,
    shared_seed: Seed,
    function: str,
    params: dict[str, Any],
    field: str | None,
    fragment: str,
    code: str,
) -> None:
    call = resolve(
        shared_seed,
        {"p_business_id": SEED_BUSINESS, "p_campaign_id": SEED_CAMPAIGN, "p_enrichment": {}, **params},
    )
    result = assert_rejected(shared, function, field, fragment, code=code, **call)
    if field is None and code == "22023":
        kind = function.split("_")[1]
        assert result["error"].startswith(f"p_enrichment.{kind}_url: ")
