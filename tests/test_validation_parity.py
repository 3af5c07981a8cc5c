"""One rule per field, proven: the SQL functions are authoritative (they are what Supabase rpc()
callers meet); the pydantic models that check the same input earlier in Python must agree with
them. Each table below is run through the model and through the function: both accept, or both
refuse naming the same field. A rule added on one side only fails here.

Rows are about the values of fields. Whether a field must be present at all can differ on
purpose: an HTTP body may require what a function defaults for rpc() callers (POST /api/leads
requires customer_name, create_lead_with_conversation takes NULL for "unknown"), and both read
a blank string as absent (the function stores NULL, the HTTP body says "is required")."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pydantic
import pytest
from psycopg.types.json import set_json_dumps

from leadledger.campaigns.models import (
    CampaignCreate,
    ClaimRequest,
    CostEntry,
    CoverageUpdate,
    EmailVerification,
    StatusTransition,
)
from leadledger.db.pool import json_dumps
from leadledger.leads.models import LeadIn
from tests.helpers import call_sql, value

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Row:
    id: str
    data: dict[str, Any]


def model_verdict(model: type[pydantic.BaseModel], data: dict[str, Any]) -> str | None:
    """None when the model takes ``data``, else the field of its first error (``a.b``, indexes
    as ``[i]``)."""
    try:
        model.model_validate(data)
    except pydantic.ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        field = ""
        for part in loc:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        return field or "(model)"
    return None


def sql_verdict(result: dict[str, Any]) -> str | None:
    """None when the function succeeded, else the field its 22023 names (without ``p_``)."""
    if result["success"]:
        return None
    assert result["error_code"] == "22023", result
    field = result["error"].split(": ", 1)[0]
    return re.sub(r"^p_", "", field)


def check(
    rows: list[Row],
    model: type[pydantic.BaseModel],
    call: Callable[[dict[str, Any]], dict[str, Any]],
    field_map: Callable[[str], str] = lambda f: f,
) -> None:
    disagreements = []
    for row in rows:
        by_model = model_verdict(model, row.data)
        by_sql = sql_verdict(call(row.data))
        expected_sql = None if by_model is None else field_map(by_model)
        if (by_model is None) != (by_sql is None) or (by_sql is not None and by_sql != expected_sql):
            disagreements.append((row.id, by_model, by_sql))
    assert disagreements == [], f"model and SQL disagree (row, model says, SQL says): {disagreements}"


def _rows(base: dict[str, Any], variants: dict[str, dict[str, Any]]) -> list[Row]:
    return [Row("valid", base)] + [Row(k, {**base, **v}) for k, v in variants.items()]


# ---------------------------------------------------------------------------------------------
# Campaigns
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pg(conn: Conn) -> Conn:
    """JSON parameters as the client's pool writes them (Decimals as JSON numbers)."""
    set_json_dumps(json_dumps, conn)
    return conn


def new_campaign(conn: Conn) -> str:
    result = call_sql(
        conn, "create_campaign_with_coverage", p_campaign_data={"name": "P"}, p_zip_codes=["78701"]
    )
    return str(result["campaign_id"])


@pytest.fixture
def campaign(pg: Conn) -> str:
    return new_campaign(pg)


MONEY_VARIANTS: dict[str, Any] = {
    "zero": Decimal("0"),
    "cents": Decimal("12.34"),
    "micro": Decimal("0.000001"),
    "too-precise": Decimal("0.0000001"),
    "negative": Decimal("-0.01"),
    "edge": Decimal("99999999.999999"),
    "too-large": Decimal("100000000"),
    "nan": Decimal("NaN"),
}


def test_create_campaign_with_coverage(pg: Conn) -> None:
    base: dict[str, Any] = {"name": "Austin dentists", "zip_codes": [{"zip_code": "78701"}]}
    rows = _rows(
        base,
        {
            "name-blank": {"name": "  "},
            "name-long": {"name": "x" * 201},
            "name-200": {"name": "x" * 200},
            "keywords": {"keywords": ["a", "b"]},
            "org": {"organization_id": str(uuid.uuid4())},
            "org-bad": {"organization_id": "acme"},
            "creator-uuid": {"created_by": str(uuid.uuid4())},
            "creator-email": {"created_by": "Owner@Example.com"},
            "creator-bad": {"created_by": "someone"},
            "zips-empty": {"zip_codes": []},
            "zip-short": {"zip_codes": [{"zip_code": "7870"}]},
            "zip-letters": {"zip_codes": [{"zip_code": "ABCDE"}]},
            "zip-repeated": {"zip_codes": [{"zip_code": "78701"}, {"zip_code": "78701"}]},
            "max-results-0": {"zip_codes": [{"zip_code": "78701", "max_results": 0}]},
            "max-results-ok": {"zip_codes": [{"zip_code": "78701", "max_results": 2147483647}]},
            "max-results-big": {"zip_codes": [{"zip_code": "78701", "max_results": 2147483648}]},
            **{  # JSON has no NaN: the client cannot send one inside a JSON parameter
                f"cost-{k}": {"zip_codes": [{"zip_code": "78701", "estimated_cost": v}]}
                for k, v in MONEY_VARIANTS.items()
                if k != "nan"
            },
        },
    )

    def call(d: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in d.items() if k != "zip_codes"}
        return call_sql(pg, "create_campaign_with_coverage", p_campaign_data=data, p_zip_codes=d["zip_codes"])

    def field(f: str) -> str:
        if f.startswith("zip_codes"):
            return f
        return "campaign_data." + f.split(".")[0]  # a union's branch name (created_by.uuid) aside

    check(rows, CampaignCreate, call, field)


def test_track_campaign_cost(pg: Conn) -> None:
    base: dict[str, Any] = {"service": "bouncer", "items_processed": 1, "cost_usd": Decimal("0.01")}
    rows = _rows(
        base,
        {
            "service-unknown": {"service": "apify"},
            "items-negative": {"items_processed": -1},
            "items-zero": {"items_processed": 0},
            "metadata": {"metadata": {"run": "x"}},
            **{f"cost-{k}": {"cost_usd": v} for k, v in MONEY_VARIANTS.items()},
        },
    )
    check(
        rows,
        CostEntry,
        lambda d: call_sql(
            pg,
            "track_campaign_cost",
            p_campaign_id=new_campaign(pg),  # a fresh total each row: the overflow rule is its own
            p_service=d["service"],
            p_items_processed=d["items_processed"],
            p_cost_usd=d["cost_usd"],
            p_metadata=d.get("metadata"),
        ),
    )


def test_update_coverage_status(conn: Conn, campaign: str) -> None:
    base: dict[str, Any] = {"businesses_found": 3, "emails_found": 1, "actual_cost": Decimal("0.1")}
    rows = _rows(
        base,
        {
            "found-negative": {"businesses_found": -1},
            "emails-negative": {"emails_found": -1},
            "failed": {"status": "failed", "error": "actor failed"},
            "failed-no-error": {"status": "failed"},
            "failed-blank-error": {"status": "failed", "error": "   "},
            "scraped-error": {"error": "oops"},
            "status-unknown": {"status": "pending"},
            **{f"cost-{k}": {"actual_cost": v} for k, v in MONEY_VARIANTS.items()},
        },
    )
    check(
        rows,
        CoverageUpdate,
        lambda d: call_sql(
            conn,
            "update_coverage_status",
            p_campaign_id=campaign,
            p_zip_code="78701",
            p_businesses_found=d["businesses_found"],
            p_emails_found=d["emails_found"],
            p_actual_cost=d["actual_cost"],
            p_status=d.get("status", "scraped"),
            p_error=d.get("error"),
        ),
        lambda f: "error" if f == "(model)" else f,
    )


def test_claim_businesses_for_enrichment(conn: Conn, campaign: str) -> None:
    base: dict[str, Any] = {"enrichment_type": "facebook", "worker": "w1"}
    rows = _rows(
        base,
        {
            "type-unknown": {"enrichment_type": "twitter"},
            "worker-blank": {"worker": "  "},
            "limit-0": {"limit": 0},
            "limit-1000": {"limit": 1000},
            "limit-1001": {"limit": 1001},
            "lease-1s": {"lease_seconds": 1},
            "lease-day": {"lease_seconds": 86400},
            "lease-day-and-1": {"lease_seconds": 86401},
            "lease-0": {"lease_seconds": 0},
        },
    )
    check(
        rows,
        ClaimRequest,
        lambda d: call_sql(
            conn,
            "claim_businesses_for_enrichment",
            p_campaign_id=campaign,
            p_enrichment_type=d["enrichment_type"],
            p_worker=d["worker"],
            p_limit=d.get("limit", 100),
            p_lease=f"{d.get('lease_seconds', 300)} seconds",
        ),
        lambda f: {"lease_seconds": "lease"}.get(f, f),
    )


def test_transition_campaign_status(conn: Conn) -> None:
    rows = [Row("running", {"status": "running"}), Row("unknown", {"status": "archived"})]

    def call(d: dict[str, Any]) -> dict[str, Any]:
        fresh = call_sql(
            conn, "create_campaign_with_coverage", p_campaign_data={"name": "T"}, p_zip_codes=["78701"]
        )
        return call_sql(
            conn, "transition_campaign_status", p_campaign_id=fresh["campaign_id"], p_new_status=d["status"]
        )

    check(rows, StatusTransition, call, lambda f: {"status": "new_status"}.get(f, f))


def test_update_email_verification(conn: Conn, campaign: str) -> None:
    call_sql(
        conn,
        "insert_businesses_batch",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses=[{"place_id": "p"}],
    )
    business = value(conn, "SELECT id::text FROM gmaps_businesses")
    base: dict[str, Any] = {"email": "a@b.example.com", "verification": {"status": "deliverable"}}
    rows = _rows(
        base,
        {
            "email-upper": {"email": " A@B.Example.com "},
            "email-bad": {"email": "not an email"},
            "email-no-dot": {"email": "a@b"},
        },
    )
    check(
        rows,
        EmailVerification,
        lambda d: call_sql(
            conn,
            "update_email_verification",
            p_business_id=business,
            p_email=d["email"],
            p_verification_data=d["verification"],
        ),
    )


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------


def test_create_lead_with_conversation(conn: Conn) -> None:
    user = value(conn, "SELECT (public.create_app_user('parity@example.com')) ->> 'user_id'")
    base: dict[str, Any] = {"customer_phone": "+15125550100", "customer_name": "Ana", "type": "quote"}
    rows = _rows(
        base,
        {
            "phone-national": {"customer_phone": "(512) 555-0101"},
            "phone-letters": {"customer_phone": "call me"},
            "phone-short": {"customer_phone": "+12345"},
            "name-long": {"customer_name": "x" * 201},
            "type-unknown": {"type": "spam"},
            "details-long": {"details": "x" * 10001},
            "details-ok": {"details": "x" * 10000},
        },
    )

    def call(d: dict[str, Any]) -> dict[str, Any]:
        phone = d["customer_phone"]
        if phone.startswith("("):
            phone = "+1" + re.sub(r"\D", "", phone)  # the route's E.164 step (phones.to_e164)
        result: dict[str, Any] = value(
            conn,
            "SELECT row_to_json(x)::jsonb -> 'r' FROM (SELECT create_lead_with_conversation("
            "%s, %s, %s, %s, %s) AS r) x",
            user,
            phone,
            d["customer_name"],
            d["type"],
            d.get("details"),
        )
        if result["success"]:
            conn.execute("DELETE FROM leads")  # one live lead per phone: keep rows independent
        return result

    check(rows, LeadIn, call, lambda f: {"type": "lead_type"}.get(f, f))
