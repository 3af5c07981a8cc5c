"""insert_businesses_batch: Google Maps results (Apify items or the seed shape) upserted into one
campaign, one business per place."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from leadledger.db import Database, ReferencedRecordNotFoundError
from tests.campaigns.conftest import (
    SEED_CAMPAIGN,
    UNKNOWN_ID,
    Conn,
    Seed,
    add_businesses,
    apify_item,
    assert_rejected,
    business,
    business_id,
    call_sql,
    jsonb_equal,
    new_campaign,
    ok,
    resolve,
    rows,
    table_counts,
    value,
)


def test_apify_items_are_stored_field_by_field_with_the_item_kept_whole(pg: Conn, campaign: str) -> None:
    items = [
        apify_item("ChIJa1", 1),
        apify_item("ChIJb2", 2, emails=[], facebooks=[], linkedIns=["https://li/b2"]),
    ]
    result = call_sql(
        pg, "insert_businesses_batch", p_campaign_id=campaign, p_zip_code="78701", p_businesses=items
    )
    assert result == {
        "success": True,
        "campaign_id": campaign,
        "zip_code": "78701",
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "total": 2,
    }

    first = business(pg, business_id(pg, campaign, "ChIJa1"))
    # The campaign's organization (the default one: the service named none).
    assert first["organization_id"] == value(
        pg, "SELECT organization_id FROM gmaps_campaigns WHERE id = %s", campaign
    )
    assert {
        k: first[k]
        for k in first
        if k not in ("id", "campaign_id", "organization_id", "raw_data", "created_at", "updated_at")
    } == {
        "place_id": "ChIJa1",
        "zip_code": "78701",
        "name": "Bright Smile Dental 1",
        "address": "101 Congress Ave, Austin, TX 78701",
        "street": "101 Congress Ave",
        "city": "Austin",
        "postal_code": "78701",
        "state": "Texas",
        "country_code": "US",
        "phone": "(512) 555-1001",
        "website": "https://brightsmile1.example.com/",
        "category": "Dentist",
        "rating": Decimal("4.70"),
        "reviews_count": 121,
        "latitude": pytest.approx(30.2673),
        "longitude": pytest.approx(-97.7431),
        "email": "info1@brightsmile.example.com",  # lower-cased
        "email_source": "google_maps",
        "email_verification_status": None,
        "email_is_safe": None,
        "facebook_url": "https://www.facebook.com/brightsmile1",
        "linkedin_url": None,
        "facebook_enrichment_status": "pending",
        "linkedin_enrichment_status": "pending",
        "facebook_enrichment_attempts": 0,
        "linkedin_enrichment_attempts": 0,
    }
    assert str(first["campaign_id"]) == campaign
    # raw_data is the original item, every field, compared as jsonb (numbers exactly).
    assert jsonb_equal(pg, f"SELECT raw_data FROM gmaps_businesses WHERE id = '{first['id']}'", items[0])

    second = business(pg, business_id(pg, campaign, "ChIJb2"))
    assert (second["email"], second["email_source"]) == (None, None)
    assert (second["facebook_url"], second["linkedin_url"]) == (None, "https://li/b2")
    assert jsonb_equal(pg, f"SELECT raw_data FROM gmaps_businesses WHERE id = '{second['id']}'", items[1])


def test_the_seed_shape_is_accepted_and_its_raw_data_kept(pg: Conn, campaign: str) -> None:
    item = {
        "place_id": "seed-1",
        "name": "Joe's Plumbing",
        "address": "1 Main St",
        "email": " Joe@Example.com ",
        "phone": "512-555-0100",
        "website": "https://joe.example.com",
        "rating": 4.25,
        "reviews_count": 8,
        "raw_data": {"source": "seed", "nested": {"a": [1, 2]}},
    }
    add_businesses(pg, campaign, [item])
    stored = business(pg, business_id(pg, campaign, "seed-1"))
    assert (stored["name"], stored["address"], stored["phone"], stored["website"]) == (
        "Joe's Plumbing",
        "1 Main St",
        "512-555-0100",
        "https://joe.example.com",
    )
    assert (stored["email"], stored["email_source"]) == ("joe@example.com", "google_maps")
    assert (stored["rating"], stored["reviews_count"]) == (Decimal("4.25"), 8)
    assert stored["raw_data"] == {"source": "seed", "nested": {"a": [1, 2]}}


def test_items_without_a_place_id_and_repeats_are_skipped_and_counted(pg: Conn, campaign: str) -> None:
    items = [
        apify_item("p1", 1, title="first p1"),
        apify_item(None, 2),  # no placeId at all
        apify_item("p2", 3),
        apify_item("   ", 4),  # blank
        apify_item("p1", 5, title="second p1"),  # repeat within the batch
        apify_item("p3", 6, placeId=None),  # placeId null
        {"place_id": " p2 ", "name": "p2 again, padded"},  # the same place after trimming
    ]
    result = add_businesses(pg, campaign, items)
    assert (result["inserted"], result["updated"], result["skipped"], result["total"]) == (2, 0, 5, 7)
    assert [r["place_id"] for r in rows(pg, "SELECT place_id FROM gmaps_businesses ORDER BY place_id")] == [
        "p1",
        "p2",
    ]
    assert business(pg, business_id(pg, campaign, "p1"))["name"] == "first p1"  # the first occurrence wins


def test_an_existing_business_gets_new_non_empty_fields_and_counts_as_updated(
    pg: Conn, campaign: str
) -> None:
    add_businesses(
        pg,
        campaign,
        [
            apify_item(
                "p1", 1, phone=None, phoneUnformatted=None, website="https://old.example.com", emails=[]
            )
        ],
    )
    before = business(pg, business_id(pg, campaign, "p1"))
    assert before["phone"] is None

    newer = {
        "placeId": "p1",
        "title": "",  # empty: keeps the stored name
        "phone": "(512) 555-9999",  # new: filled in
        "website": None,  # null: keeps the stored website
        "totalScore": 3.9,  # changed: replaced
        "postalCode": "78799",
        "emails": ["new@brightsmile.example.com"],
        "facebooks": ["https://www.facebook.com/other"],  # an existing facebook_url is kept
    }
    result = add_businesses(pg, campaign, [newer, apify_item("p2", 2)], zip_code="78702")
    assert (result["inserted"], result["updated"], result["skipped"], result["total"]) == (1, 1, 0, 2)

    after = business(pg, before["id"])
    assert after["name"] == before["name"] == "Bright Smile Dental 1"
    assert after["phone"] == "(512) 555-9999"
    assert after["website"] == "https://old.example.com"
    assert after["rating"] == Decimal("3.90")
    assert after["postal_code"] == "78799"
    assert after["zip_code"] == "78701"  # the ZIP that found it first
    assert (after["email"], after["email_source"]) == ("new@brightsmile.example.com", "google_maps")
    assert after["facebook_url"] == "https://www.facebook.com/brightsmile1"
    assert after["raw_data"]["phone"] == "(512) 555-9999"  # raw_data holds the latest item
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]
    assert table_counts(pg)["gmaps_businesses"] == 2


def test_a_new_google_email_resets_the_verification_of_the_old_one(pg: Conn, campaign: str) -> None:
    add_businesses(pg, campaign, [apify_item("p1", 1, emails=["old@example.com"])])
    bid = business_id(pg, campaign, "p1")
    ok(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email="old@example.com",
        p_verification_data={"status": "deliverable"},
    )
    add_businesses(pg, campaign, [apify_item("p1", 1, emails=["old@example.com"])])  # same email: kept
    assert business(pg, bid)["email_verification_status"] == "deliverable"
    add_businesses(pg, campaign, [apify_item("p1", 1, emails=["new@example.com"])])
    stored = business(pg, bid)
    assert (stored["email"], stored["email_verification_status"], stored["email_is_safe"]) == (
        "new@example.com",
        None,
        None,
    )


def test_the_email_is_the_first_address_in_the_list(pg: Conn, campaign: str) -> None:
    items = [
        apify_item("p1", 1, emails=["info at example dot com", "", " Sales@Example.com ", "b@example.com"]),
        apify_item("p2", 2, emails=["not-an-email"]),
        apify_item("p3", 3, email="direct@example.com", emails=["list@example.com"]),
    ]
    add_businesses(pg, campaign, items)
    found = {
        r["place_id"]: (r["email"], r["email_source"]) for r in rows(pg, "SELECT * FROM gmaps_businesses")
    }
    assert found == {
        "p1": ("sales@example.com", "google_maps"),
        "p2": (None, None),
        "p3": ("direct@example.com", "google_maps"),
    }


def test_without_p_zip_code_the_zip_comes_from_a_5_digit_postal_code(pg: Conn, campaign: str) -> None:
    items = [apify_item("p1", 1, postalCode="78745"), apify_item("p2", 2, postalCode="78745-1234")]
    result = add_businesses(pg, campaign, items, zip_code=None)
    assert result["zip_code"] is None
    found = {
        r["place_id"]: r["zip_code"] for r in rows(pg, "SELECT place_id, zip_code FROM gmaps_businesses")
    }
    assert found == {"p1": "78745", "p2": None}


def test_the_same_place_in_two_campaigns_is_two_businesses(pg: Conn, campaign: str) -> None:
    other = new_campaign(pg, "other")
    assert add_businesses(pg, campaign, [apify_item("p1", 1)])["inserted"] == 1
    assert add_businesses(pg, other, [apify_item("p1", 1)])["inserted"] == 1
    assert value(pg, "SELECT count(DISTINCT campaign_id) FROM gmaps_businesses WHERE place_id = 'p1'") == 2


def test_an_empty_batch_succeeds_and_writes_nothing(pg: Conn, campaign: str) -> None:
    before = table_counts(pg)
    result = add_businesses(pg, campaign, [])
    assert (result["inserted"], result["updated"], result["skipped"], result["total"]) == (0, 0, 0, 0)
    assert table_counts(pg) == before


def test_a_10000_item_batch(pg: Conn, campaign: str) -> None:
    items = [{"placeId": f"place-{n:05d}", "title": f"Business {n}", "totalScore": 4.5} for n in range(10000)]
    first = add_businesses(pg, campaign, items)
    assert (first["inserted"], first["updated"], first["skipped"], first["total"]) == (10000, 0, 0, 10000)
    again = add_businesses(pg, campaign, items)
    assert (again["inserted"], again["updated"], again["unchanged"], again["skipped"]) == (0, 0, 10000, 0)
    assert value(pg, "SELECT count(*) FROM gmaps_businesses WHERE campaign_id = %s", campaign) == 10000


def test_the_client_raises_for_an_unknown_campaign(database: Database, pg: Conn) -> None:
    with pytest.raises(ReferencedRecordNotFoundError) as info:
        database.call(
            "insert_businesses_batch", p_campaign_id=UNKNOWN_ID, p_zip_code="78701", p_businesses=[]
        )
    assert info.value.message == "Campaign not found"
    assert table_counts(pg)["gmaps_businesses"] == 0


GOOD = apify_item("good-place", 0)


def bad_item(**fields: Any) -> list[Any]:
    """A batch whose first item is fine and whose second (index 1) has the given fields."""
    return [GOOD, {"placeId": "bad-place", **fields}]


BAD_INPUTS: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    # (id, parameters, field, fragment, error_code)
    ("campaign-null", {"p_campaign_id": None}, "p_campaign_id", "is required", "22023"),
    ("campaign-unknown", {"p_campaign_id": UNKNOWN_ID}, None, "Campaign not found", "23503"),
    ("zip-short", {"p_zip_code": "7870"}, "p_zip_code", "5 digits", "22023"),
    ("zip-letters", {"p_zip_code": "ABCDE"}, "p_zip_code", "5 digits", "22023"),
    ("zip-empty", {"p_zip_code": ""}, "p_zip_code", "5 digits", "22023"),
    ("batch-null", {"p_businesses": None}, "p_businesses", "must be a JSON array, got nothing", "22023"),
    ("batch-object", {"p_businesses": GOOD}, "p_businesses", "must be a JSON array, got object", "22023"),
    ("batch-string", {"p_businesses": Jsonb("x")}, "p_businesses", "got string", "22023"),
    ("item-number", {"p_businesses": [GOOD, 5]}, "p_businesses[1]", "must be a JSON object", "22023"),
    ("item-null", {"p_businesses": [GOOD, None]}, "p_businesses[1]", "must be a JSON object", "22023"),
    ("item-array", {"p_businesses": [[GOOD]]}, "p_businesses[0]", "must be a JSON object", "22023"),
    ("placeid-number", {"p_businesses": bad_item(placeId=5)}, "p_businesses[1].placeId", "string", "22023"),
    (
        "place-id-object",
        {"p_businesses": [GOOD, {"place_id": {}}]},
        "p_businesses[1].place_id",
        "string",
        "22023",
    ),
    (
        "placeid-long",
        {"p_businesses": bad_item(placeId="x" * 513)},
        "p_businesses[1].placeId",
        "512",
        "22023",
    ),
    (
        "score-text",
        {"p_businesses": bad_item(totalScore="4.5")},
        "p_businesses[1].totalScore",
        "number",
        "22023",
    ),
    (
        "score-high",
        {"p_businesses": bad_item(totalScore=5.5)},
        "p_businesses[1].totalScore",
        "0 and 5",
        "22023",
    ),
    (
        "score-negative",
        {"p_businesses": bad_item(totalScore=-1)},
        "p_businesses[1].totalScore",
        "0 and 5",
        "22023",
    ),
    (
        "rating-text",
        {"p_businesses": bad_item(totalScore=None, rating="x")},
        "p_businesses[1].rating",
        "",
        "22023",
    ),
    ("rating-high", {"p_businesses": bad_item(rating=7)}, "p_businesses[1].rating", "0 and 5", "22023"),
    (
        "reviews-negative",
        {"p_businesses": bad_item(reviewsCount=-1)},
        "p_businesses[1].reviewsCount",
        "",
        "22023",
    ),
    (
        "reviews-text",
        {"p_businesses": bad_item(reviewsCount="12")},
        "p_businesses[1].reviewsCount",
        "",
        "22023",
    ),
    (
        "reviews-huge",
        {"p_businesses": bad_item(reviewsCount=3e9)},
        "p_businesses[1].reviewsCount",
        "",
        "22023",
    ),
    (
        "reviews2-neg",
        {"p_businesses": bad_item(reviews_count=-3)},
        "p_businesses[1].reviews_count",
        "",
        "22023",
    ),
    (
        "location-string",
        {"p_businesses": bad_item(location="30,-97")},
        "p_businesses[1].location",
        "object",
        "22023",
    ),
    (
        "lat-text",
        {"p_businesses": bad_item(location={"lat": "30"})},
        "p_businesses[1].location.lat",
        "",
        "22023",
    ),
    (
        "lat-range",
        {"p_businesses": bad_item(location={"lat": 91, "lng": 0})},
        "p_businesses[1].location.lat",
        "",
        "22023",
    ),
    (
        "lng-range",
        {"p_businesses": bad_item(location={"lat": 0, "lng": -181})},
        "p_businesses[1].location.lng",
        "",
        "22023",
    ),
    ("email-number", {"p_businesses": bad_item(email=5)}, "p_businesses[1].email", "string", "22023"),
    (
        "email-invalid",
        {"p_businesses": bad_item(email="joe at example")},
        "p_businesses[1].email",
        "address",
        "22023",
    ),
    (
        "emails-string",
        {"p_businesses": bad_item(emails="a@b.co")},
        "p_businesses[1].emails",
        "array",
        "22023",
    ),
    (
        "emails-numbers",
        {"p_businesses": bad_item(emails=["a@b.co", 1])},
        "p_businesses[1].emails",
        "strings",
        "22023",
    ),
    (
        "raw-data-array",
        {"p_businesses": bad_item(raw_data=[1])},
        "p_businesses[1].raw_data",
        "object",
        "22023",
    ),
    (
        "batch-50001",
        {"p_businesses": [{"placeId": str(n)} for n in range(50001)]},
        "p_businesses",
        "has 50001 items",
        "22023",
    ),
]


@pytest.mark.parametrize(
    ("params", "field", "fragment", "code"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_rejected_and_writes_nothing(
    shared: Conn, shared_seed: Seed, params: dict[str, Any], field: str | None, fragment: str, code: str
) -> None:
    call = resolve(
        shared_seed, {"p_campaign_id": SEED_CAMPAIGN, "p_zip_code": "78701", "p_businesses": [GOOD], **params}
    )
    assert_rejected(shared, "insert_businesses_batch", field, fragment, code=code, **call)


def test_a_place_scraped_again_unchanged_is_counted_unchanged_and_not_rewritten(
    pg: Conn, campaign: str
) -> None:
    items = [apify_item("p1", 1), apify_item("p2", 2)]
    add_businesses(pg, campaign, items)
    stamp = value(pg, "SELECT max(updated_at) FROM gmaps_businesses WHERE campaign_id = %s", campaign)
    xmins = rows(
        pg, "SELECT xmin::text AS x FROM gmaps_businesses WHERE campaign_id = %s ORDER BY place_id", campaign
    )

    again = add_businesses(pg, campaign, [*items, items[0]])
    assert (again["inserted"], again["updated"], again["unchanged"], again["skipped"], again["total"]) == (
        0,
        0,
        2,
        1,
        3,
    )
    assert value(pg, "SELECT max(updated_at) FROM gmaps_businesses WHERE campaign_id = %s", campaign) == stamp
    assert (
        rows(
            pg,
            "SELECT xmin::text AS x FROM gmaps_businesses WHERE campaign_id = %s ORDER BY place_id",
            campaign,
        )
        == xmins
    )

    changed = add_businesses(pg, campaign, [apify_item("p1", 1, totalScore=2.5), items[1]])
    assert (changed["updated"], changed["unchanged"]) == (1, 1)


def test_a_rescrape_back_to_a_verified_email_restores_its_verification(pg: Conn, campaign: str) -> None:
    add_businesses(pg, campaign, [apify_item("p1", 1, emails=["first@example.com"])])
    bid = business_id(pg, campaign, "p1")
    ok(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email="first@example.com",
        p_verification_data={"status": "deliverable", "is_safe": True},
    )
    add_businesses(pg, campaign, [apify_item("p1", 1, emails=["second@example.com"])])
    moved = business(pg, bid)
    assert (moved["email"], moved["email_verification_status"], moved["email_is_safe"]) == (
        "second@example.com",
        None,
        None,
    )
    add_businesses(pg, campaign, [apify_item("p1", 1, emails=["first@example.com"])])
    back = business(pg, bid)
    assert (back["email"], back["email_verification_status"], back["email_is_safe"]) == (
        "first@example.com",
        "deliverable",
        True,
    )
