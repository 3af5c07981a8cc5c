"""create_campaign_with_coverage: a campaign and its ZIP coverage rows, or nothing at all."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from leadledger.db import Database, ValidationError
from tests.campaigns.conftest import Conn, Seed, assert_rejected, call_sql, ok, one, rows, table_counts, value

ORG = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
USER = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"


def test_creates_the_campaign_and_one_coverage_row_per_zip(pg: Conn) -> None:
    result = call_sql(
        pg,
        "create_campaign_with_coverage",
        p_campaign_data={
            "name": "  Austin dentists  ",
            "description": "Q4 outreach",
            "keywords": ["dentist", "orthodontist"],
            "location": "Austin, TX",
            "coverage_profile": "balanced",
            "organization_id": ORG,
            "created_by": USER,
            "unknown_field": "ignored",
        },
        p_zip_codes=[
            "78701",
            {
                "zip_code": "78702",
                "keywords": ["pediatric dentist"],
                "max_results": 50,
                "estimated_cost": 1.25,
            },
            {"zip_code": "78703", "estimated_cost": 0.000001},
        ],
    )
    campaign_id = result["campaign_id"]
    assert result == {
        "success": True,
        "campaign_id": campaign_id,
        "organization_id": ORG,  # 000 §1.1's organization_id: created when the service names a new one
        "zip_count": 3,
        "estimated_cost": Decimal("1.250001"),
        "message": "Campaign created with 3 ZIP codes",
    }

    campaign = one(pg, "SELECT * FROM gmaps_campaigns WHERE id = %s", campaign_id)
    assert campaign["name"] == "Austin dentists"
    assert campaign["description"] == "Q4 outreach"
    assert campaign["keywords"] == ["dentist", "orthodontist"]
    assert campaign["location"] == "Austin, TX"
    assert campaign["coverage_profile"] == "balanced"
    assert str(campaign["organization_id"]) == ORG
    assert str(campaign["created_by"]) == USER
    assert campaign["status"] == "draft"
    assert campaign["target_zip_count"] == 3
    assert campaign["estimated_cost"] == Decimal("1.250001")
    assert campaign["actual_cost"] == 0
    assert campaign["started_at"] is None
    assert campaign["completed_at"] is None

    coverage = rows(
        pg,
        "SELECT zip_code, keywords, max_results, estimated_cost, status, businesses_found, scraped_at"
        " FROM gmaps_campaign_coverage WHERE campaign_id = %s ORDER BY zip_code",
        campaign_id,
    )
    assert coverage == [
        {
            "zip_code": "78701",
            "keywords": ["dentist", "orthodontist"],  # inherited from the campaign
            "max_results": None,
            "estimated_cost": Decimal("0"),
            "status": "pending",
            "businesses_found": None,
            "scraped_at": None,
        },
        {
            "zip_code": "78702",
            "keywords": ["pediatric dentist"],
            "max_results": 50,
            "estimated_cost": Decimal("1.25"),
            "status": "pending",
            "businesses_found": None,
            "scraped_at": None,
        },
        {
            "zip_code": "78703",
            "keywords": ["dentist", "orthodontist"],
            "max_results": None,
            "estimated_cost": Decimal("0.000001"),
            "status": "pending",
            "businesses_found": None,
            "scraped_at": None,
        },
    ]
    assert value(pg, "SELECT count(*) FROM gmaps_campaign_status_history") == 0


def test_minimal_campaign_has_empty_keywords(pg: Conn) -> None:
    result = ok(pg, "create_campaign_with_coverage", p_campaign_data={"name": "x"}, p_zip_codes=["00501"])
    campaign = one(
        pg, "SELECT keywords, estimated_cost FROM gmaps_campaigns WHERE id = %s", result["campaign_id"]
    )
    assert campaign == {"keywords": [], "estimated_cost": Decimal("0")}
    assert value(pg, "SELECT keywords FROM gmaps_campaign_coverage") == []
    assert result["estimated_cost"] == 0


def test_two_campaigns_may_cover_the_same_zip(pg: Conn) -> None:
    for name in ("first", "second"):
        ok(pg, "create_campaign_with_coverage", p_campaign_data={"name": name}, p_zip_codes=["78701"])
    assert table_counts(pg)["gmaps_campaign_coverage"] == 2


def test_5000_zip_codes_in_one_call(pg: Conn) -> None:
    zips = [f"{n:05d}" for n in range(10000, 15000)]
    result = ok(pg, "create_campaign_with_coverage", p_campaign_data={"name": "big"}, p_zip_codes=zips)
    assert result["zip_count"] == 5000
    assert (
        value(
            pg, "SELECT count(*) FROM gmaps_campaign_coverage WHERE campaign_id = %s", result["campaign_id"]
        )
        == 5000
    )


#: Items at the edges of the ZIP rules that are valid: the set-based pass must not refuse them
#: (and where it flags an item, the per-item checks decide).
VALID_EDGE_ITEMS: list[Any] = [
    "00000",
    {"zip_code": "99999"},
    {"zip_code": "78701", "max_results": 2147483647},
    {"zip_code": "78701", "max_results": 5.0},
    {"zip_code": "78701", "max_results": 1},
    {"zip_code": "78701", "estimated_cost": 0},
    {"zip_code": "78701", "estimated_cost": 0.000001},
    {"zip_code": "78701", "estimated_cost": 99999999.999999},
    {"zip_code": "78701", "keywords": []},
    {"zip_code": "78701", "keywords": ["a", ""], "max_results": None, "estimated_cost": None},
    {"zip_code": "78701", "keywords": None},
    {"zip_code": "78701", "note": "unknown fields are allowed"},
]


@pytest.mark.parametrize("item", VALID_EDGE_ITEMS, ids=[str(i) for i in range(len(VALID_EDGE_ITEMS))])
def test_valid_items_at_the_edges_of_the_rules_are_accepted(pg: Conn, item: Any) -> None:
    result = ok(pg, "create_campaign_with_coverage", p_campaign_data={"name": "edge"}, p_zip_codes=[item])
    assert result["zip_count"] == 1


@pytest.mark.parametrize("bad_at", [0, 2500, 4999])
def test_the_first_bad_item_of_a_long_list_is_named(shared: Conn, shared_seed: Seed, bad_at: int) -> None:
    zips: list[Any] = [{"zip_code": f"{n:05d}", "max_results": 20} for n in range(10000, 15000)]
    zips[bad_at] = {"zip_code": f"{10000 + bad_at:05d}", "max_results": -1}
    zips[4999 if bad_at < 4999 else 0] = {"zip_code": "123"}  # a second bad item, named only if first
    first, second = sorted({bad_at, 4999 if bad_at < 4999 else 0})
    field = f"p_zip_codes[{first}].max_results" if first == bad_at else f"p_zip_codes[{first}].zip_code"
    assert_rejected(
        shared, "create_campaign_with_coverage", field, "", p_campaign_data=NAME, p_zip_codes=zips
    )
    assert second > first


def test_a_failure_after_the_campaign_insert_leaves_no_campaign(pg: Conn) -> None:
    """The exception block rolls back the campaign row when the coverage insert fails."""
    pg.execute(
        """
        CREATE FUNCTION public.test_refuse_zip() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.zip_code = '99999' THEN RAISE EXCEPTION 'refused by test trigger'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_refuse_zip BEFORE INSERT ON public.gmaps_campaign_coverage
            FOR EACH ROW EXECUTE FUNCTION public.test_refuse_zip();
        """
    )
    result = call_sql(
        pg, "create_campaign_with_coverage", p_campaign_data={"name": "x"}, p_zip_codes=["78701", "99999"]
    )
    assert result["success"] is False
    assert result["error"] == "refused by test trigger"
    assert table_counts(pg) == dict.fromkeys(table_counts(pg), 0)


def test_the_client_raises_validation_error_naming_the_field(database: Database, pg: Conn) -> None:
    with pytest.raises(ValidationError) as info:
        database.call(
            "create_campaign_with_coverage",
            p_campaign_data={"name": "x"},
            p_zip_codes=["78701", {"zip_code": "7870"}],
        )
    assert info.value.error_code == "22023"
    assert info.value.message.startswith("p_zip_codes[1].zip_code: ")
    assert table_counts(pg)["gmaps_campaigns"] == 0


NAME = {"name": "ok"}

BAD_INPUTS: list[tuple[str, Any, Any, str, str]] = [
    # (id, p_campaign_data, p_zip_codes, field, fragment)
    ("data-null", None, ["78701"], "p_campaign_data", "must be a JSON object"),
    ("data-array", [NAME], ["78701"], "p_campaign_data", "must be a JSON object"),
    ("data-string", Jsonb("ok"), ["78701"], "p_campaign_data", "must be a JSON object"),
    ("name-missing", {}, ["78701"], "p_campaign_data.name", "is required"),
    ("name-null", {"name": None}, ["78701"], "p_campaign_data.name", "is required"),
    ("name-blank", {"name": "   "}, ["78701"], "p_campaign_data.name", "is required"),
    ("name-number", {"name": 5}, ["78701"], "p_campaign_data.name", "must be a string"),
    ("name-too-long", {"name": "x" * 201}, ["78701"], "p_campaign_data.name", "at most 200"),
    ("description-number", {**NAME, "description": 1}, ["78701"], "p_campaign_data.description", "string"),
    ("keywords-string", {**NAME, "keywords": "dentist"}, ["78701"], "p_campaign_data.keywords", "array"),
    (
        "keywords-numbers",
        {**NAME, "keywords": [1]},
        ["78701"],
        "p_campaign_data.keywords",
        "array of strings",
    ),
    ("location-object", {**NAME, "location": {}}, ["78701"], "p_campaign_data.location", "string"),
    (
        "org-not-uuid",
        {**NAME, "organization_id": "acme"},
        ["78701"],
        "p_campaign_data.organization_id",
        "UUID",
    ),
    ("created-by-number", {**NAME, "created_by": 7}, ["78701"], "p_campaign_data.created_by", "UUID"),
    ("zips-null", NAME, None, "p_zip_codes", "must be a JSON array, got nothing"),
    ("zips-object", NAME, {"zip_code": "78701"}, "p_zip_codes", "must be a JSON array, got object"),
    ("zips-empty", NAME, [], "p_zip_codes", "at least one ZIP code"),
    ("zip-short-string", NAME, ["78701", "7870"], "p_zip_codes[1].zip_code", "5-digit ZIP"),
    ("zip-letters", NAME, ["78701", {"zip_code": "ABCDE"}], "p_zip_codes[1].zip_code", "5-digit ZIP"),
    ("zip-number", NAME, ["78701", {"zip_code": 78702}], "p_zip_codes[1].zip_code", "5-digit ZIP"),
    ("zip-plus-four", NAME, ["78701-1234"], "p_zip_codes[0].zip_code", "5-digit ZIP"),
    ("zip-missing", NAME, ["78701", {"keywords": ["x"]}], "p_zip_codes[1].zip_code", "is required"),
    ("zip-item-number", NAME, ["78701", 78702], "p_zip_codes[1]", "must be a JSON object"),
    ("zip-item-null", NAME, ["78701", None], "p_zip_codes[1]", "must be a JSON object"),
    ("zip-item-array", NAME, [["78701"]], "p_zip_codes[0]", "must be a JSON object"),
    ("zip-keywords", NAME, [{"zip_code": "78701", "keywords": "x"}], "p_zip_codes[0].keywords", "array"),
    (
        "max-results-zero",
        NAME,
        [{"zip_code": "78701", "max_results": 0}],
        "p_zip_codes[0].max_results",
        "positive",
    ),
    (
        "max-results-neg",
        NAME,
        [{"zip_code": "78701", "max_results": -5}],
        "p_zip_codes[0].max_results",
        "positive",
    ),
    (
        "max-results-frac",
        NAME,
        [{"zip_code": "78701", "max_results": 1.5}],
        "p_zip_codes[0].max_results",
        "integer",
    ),
    (
        "max-results-text",
        NAME,
        [{"zip_code": "78701", "max_results": "50"}],
        "p_zip_codes[0].max_results",
        "integer",
    ),
    (
        "max-results-huge",
        NAME,
        [{"zip_code": "78701", "max_results": 3000000000}],
        "p_zip_codes[0].max_results",
        "",
    ),
    (
        "cost-negative",
        NAME,
        [{"zip_code": "78701", "estimated_cost": -1}],
        "p_zip_codes[0].estimated_cost",
        "",
    ),
    (
        "cost-text",
        NAME,
        [{"zip_code": "78701", "estimated_cost": "1"}],
        "p_zip_codes[0].estimated_cost",
        "number",
    ),
    (
        "cost-huge",
        NAME,
        [{"zip_code": "78701", "estimated_cost": 100000000}],
        "p_zip_codes[0].estimated_cost",
        "",
    ),
    (
        "cost-sum-huge",
        NAME,
        [
            {"zip_code": "78701", "estimated_cost": 60000000},
            {"zip_code": "78702", "estimated_cost": 40000000},
        ],
        "p_zip_codes",
        "less than 100000000",
    ),
    (
        "zip-repeated",
        NAME,
        ["78701", "78702", "78701"],
        "p_zip_codes",
        "ZIP code 78701 is listed more than once",
    ),
    (
        "zip-repeated-mixed",
        NAME,
        ["78701", {"zip_code": "78701"}],
        "p_zip_codes",
        "78701 is listed more than once",
    ),
    ("zips-5001", NAME, [f"{n:05d}" for n in range(10000, 15001)], "p_zip_codes", "has 5001 items"),
    (
        "zips-10000",
        NAME,
        [f"{n:05d}" for n in range(10000, 20000)],
        "p_zip_codes",
        "at most 5000 are accepted",
    ),
]


@pytest.mark.parametrize(
    ("data", "zips", "field", "fragment"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_rejected_and_writes_nothing(
    shared: Conn, shared_seed: Seed, data: Any, zips: Any, field: str, fragment: str
) -> None:
    assert_rejected(
        shared, "create_campaign_with_coverage", field, fragment, p_campaign_data=data, p_zip_codes=zips
    )
