"""track_campaign_cost: one cost row per call and an exact running total on the campaign."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from leadledger.db import Database, ValidationError
from tests.campaigns.conftest import (
    SEED_CAMPAIGN,
    UNKNOWN_ID,
    Conn,
    Seed,
    assert_rejected,
    call_sql,
    ok,
    one,
    resolve,
    rows,
    table_state,
    value,
)


def actual_cost(pg: Conn, campaign: str) -> Decimal:
    result: Decimal = value(pg, "SELECT actual_cost FROM gmaps_campaigns WHERE id = %s", campaign)
    return result


def test_a_cost_is_recorded_and_added_to_the_total(pg: Conn, campaign: str) -> None:
    result = call_sql(
        pg,
        "track_campaign_cost",
        p_campaign_id=campaign,
        p_service="google_maps",
        p_items_processed=120,
        p_cost_usd=Decimal("0.480000"),
        p_metadata={"apify_run_id": "run-1", "zip_code": "78701"},
    )
    assert result == {
        "success": True,
        "cost_id": result["cost_id"],
        "campaign_id": campaign,
        "service": "google_maps",
        "cost_usd": Decimal("0.480000"),
        "items_processed": 120,
        "new_total": Decimal("0.480000"),
    }
    row = one(pg, "SELECT * FROM gmaps_api_costs WHERE id = %s", result["cost_id"])
    assert (str(row["campaign_id"]), row["service"], row["items_processed"], row["cost_usd"]) == (
        campaign,
        "google_maps",
        120,
        Decimal("0.48"),
    )
    assert row["metadata"] == {"apify_run_id": "run-1", "zip_code": "78701"}
    assert actual_cost(pg, campaign) == Decimal("0.48")


def test_every_service_and_the_sum_of_the_rows_is_the_total(pg: Conn, campaign: str) -> None:
    amounts = [
        ("google_maps", Decimal("1.234567")),
        ("facebook", Decimal("0.000001")),
        ("linkedin", Decimal("12.5")),
        ("bouncer", Decimal("0")),
        ("google_maps", Decimal("99.999999")),
    ]
    total = Decimal(0)
    for service, amount in amounts:
        total += amount
        result = ok(
            pg,
            "track_campaign_cost",
            p_campaign_id=campaign,
            p_service=service,
            p_items_processed=1,
            p_cost_usd=amount,
        )
        assert result["new_total"] == total
    assert actual_cost(pg, campaign) == total == Decimal("113.734567")
    assert value(pg, "SELECT sum(cost_usd) FROM gmaps_api_costs WHERE campaign_id = %s", campaign) == total
    assert [r["service"] for r in rows(pg, "SELECT service FROM gmaps_api_costs ORDER BY created_at")] == [
        s for s, _ in amounts
    ]


def test_metadata_is_optional_and_json_null_is_stored_as_null(pg: Conn, campaign: str) -> None:
    ok(
        pg,
        "track_campaign_cost",
        p_campaign_id=campaign,
        p_service="bouncer",
        p_items_processed=0,
        p_cost_usd=0,
    )
    ok(
        pg,
        "track_campaign_cost",
        p_campaign_id=campaign,
        p_service="bouncer",
        p_items_processed=0,
        p_cost_usd=0,
        p_metadata=Jsonb(None),
    )
    assert [r["metadata"] for r in rows(pg, "SELECT metadata FROM gmaps_api_costs")] == [None, None]


def test_the_answer_carries_the_amount_as_stored(pg: Conn, campaign: str) -> None:
    result = ok(
        pg,
        "track_campaign_cost",
        p_campaign_id=campaign,
        p_service="facebook",
        p_items_processed=1,
        p_cost_usd=Decimal("7.5"),
    )
    stored = value(pg, "SELECT cost_usd FROM gmaps_api_costs WHERE id = %s", result["cost_id"])
    assert Decimal(str(result["cost_usd"])) == stored == Decimal("7.500000")
    assert Decimal(str(result["new_total"])) == actual_cost(pg, campaign) == Decimal("7.500000")


@pytest.mark.parametrize("amount", ["0.0000004", "0.0000005", "1.1234567", "0.00000001"])
def test_amounts_the_columns_would_round_are_refused_naming_the_field(
    pg: Conn, campaign: str, amount: str
) -> None:
    """Issue 8: the answer used to carry the amount as sent while the row kept it rounded to 6
    places; an amount that would change when stored is now refused, and nothing is written."""
    assert_rejected(
        pg,
        "track_campaign_cost",
        "p_cost_usd",
        "at most 6 decimal places",
        p_campaign_id=campaign,
        p_service="facebook",
        p_items_processed=1,
        p_cost_usd=Decimal(amount),
    )
    assert actual_cost(pg, campaign) == 0


def test_a_total_that_would_overflow_is_rejected_and_writes_nothing(pg: Conn, campaign: str) -> None:
    ok(
        pg,
        "track_campaign_cost",
        p_campaign_id=campaign,
        p_service="google_maps",
        p_items_processed=1,
        p_cost_usd=Decimal("99999999.99"),
    )
    assert_rejected(
        pg,
        "track_campaign_cost",
        "p_cost_usd",
        "would take the campaign total cost to 100000000",
        p_campaign_id=campaign,
        p_service="google_maps",
        p_items_processed=1,
        p_cost_usd=Decimal("0.01"),
    )
    assert actual_cost(pg, campaign) == Decimal("99999999.99")


def test_the_client_raises_validation_error_for_nan(database: Database, pg: Conn, campaign: str) -> None:
    """A float NaN from Python must not turn the total into NaN for good."""
    before = table_state(pg)
    with pytest.raises(ValidationError) as info:
        database.call(
            "track_campaign_cost",
            p_campaign_id=campaign,
            p_service="facebook",
            p_items_processed=1,
            p_cost_usd=float("nan"),
        )
    assert info.value.message.startswith("p_cost_usd: ")
    assert table_state(pg) == before


def test_a_parameter_of_the_wrong_type_is_a_validation_error(
    database: Database, pg: Conn, campaign: str
) -> None:
    """Scalar parameters are typed: the server refuses the literal before the function runs."""
    before = table_state(pg)
    with pytest.raises(ValidationError) as info:
        database.call(
            "track_campaign_cost",
            p_campaign_id=campaign,
            p_service="facebook",
            p_items_processed="ten",
            p_cost_usd=Decimal("0.01"),
        )
    assert info.value.error_code == "22P02"
    assert "integer" in info.value.message
    with pytest.raises(ValidationError) as info:
        database.call(
            "track_campaign_cost",
            p_campaign_id="not-a-uuid",
            p_service="facebook",
            p_items_processed=1,
            p_cost_usd=Decimal("0.01"),
        )
    assert "uuid" in info.value.message
    assert table_state(pg) == before


BAD_INPUTS: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    ("campaign-null", {"p_campaign_id": None}, "p_campaign_id", "is required", "22023"),
    ("campaign-unknown", {"p_campaign_id": UNKNOWN_ID}, None, "Campaign not found", "23503"),
    ("service-null", {"p_service": None}, "p_service", "got nothing", "22023"),
    ("service-unknown", {"p_service": "apify"}, "p_service", "got 'apify'", "22023"),
    ("service-case", {"p_service": "Google_Maps"}, "p_service", "must be one of", "22023"),
    ("items-null", {"p_items_processed": None}, "p_items_processed", "got nothing", "22023"),
    ("items-negative", {"p_items_processed": -1}, "p_items_processed", "got -1", "22023"),
    ("cost-null", {"p_cost_usd": None}, "p_cost_usd", "got nothing", "22023"),
    ("cost-negative", {"p_cost_usd": Decimal("-0.01")}, "p_cost_usd", "got -0.01", "22023"),
    ("cost-nan", {"p_cost_usd": Decimal("NaN")}, "p_cost_usd", "got NaN", "22023"),
    ("cost-infinity", {"p_cost_usd": Decimal("Infinity")}, "p_cost_usd", "less than 100000000", "22023"),
    ("cost-too-large", {"p_cost_usd": Decimal("100000000")}, "p_cost_usd", "less than 100000000", "22023"),
    (
        "cost-rounds-up",
        {"p_cost_usd": Decimal("99999999.9999995")},
        "p_cost_usd",
        "6 decimal places",
        "22023",
    ),
    ("cost-too-precise", {"p_cost_usd": Decimal("0.0000001")}, "p_cost_usd", "6 decimal places", "22023"),
    ("metadata-array", {"p_metadata": [1]}, "p_metadata", "must be a JSON object", "22023"),
    ("metadata-string", {"p_metadata": Jsonb("run-1")}, "p_metadata", "must be a JSON object", "22023"),
    ("metadata-number", {"p_metadata": Jsonb(5)}, "p_metadata", "must be a JSON object", "22023"),
]


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
            "p_service": "google_maps",
            "p_items_processed": 1,
            "p_cost_usd": Decimal("0.01"),
            **params,
        },
    )
    assert_rejected(shared, "track_campaign_cost", field, fragment, code=code, **call)
