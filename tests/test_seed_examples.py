"""Every example of the design documents (../shared/seeds/) that names a function or route
leadledger implements, run as written, with the result the document shows.

Placeholders the documents use where a real value must go, and what this file puts there:

| document writes | here |
| --- | --- |
| ``"uuid"``, ``'campaign-id-here'``, ``'user-id'`` | a real id of the right kind, created first |
| ``"raw_data": { ... }``, ``"raw_response": { ... }`` | ``{}`` (``{ ... }`` is not JSON) |
| ``"ChIJ..."`` | kept as it is (it is a valid place id string) |

Where a document contradicts itself, the test says which side it follows. Examples of 002
(execute_campaign_atomically) and of 004 §3 (workflows, activities) name functions of issues not
built yet; they join this file with their issues.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from leadledger.api import create_app
from leadledger.db import Database
from leadledger.leads.client import LeadsClient
from leadledger.leads.fake_whatsapp import FakeWhatsAppServer
from tests.conftest import make_settings
from tests.helpers import call_sql, fetch_sql, one, rows, value
from tests.tenants import new_member

Conn = psycopg.Connection[Any]


def _json(text: str) -> Any:
    """A document payload, pasted: ``{ ... }`` placeholders become ``{}``."""
    return json.loads(text.replace("{ ... }", "{}"))


@pytest.fixture
def pg(conn: Conn) -> Conn:
    from tests.campaigns.conftest import prepare

    return prepare(conn)


# =============================================================================================
# 000: PostgreSQL Stored Functions Architecture Design
# =============================================================================================

#: 000 §1.1 "Input Structure", as written.
CAMPAIGN_INPUT = """
{
  "campaign_data": {
    "name": "Campaign Name",
    "description": "Description",
    "keywords": ["keyword1", "keyword2"],
    "location": "Los Angeles, CA",
    "coverage_profile": "balanced",
    "organization_id": "uuid",
    "created_by": "user@example.com"
  },
  "zip_codes": [
    {
      "zip_code": "90001",
      "keywords": ["dentist", "dental"],
      "max_results": 200,
      "estimated_cost": 1.40
    }
  ]
}
"""

#: 000 §1.2 "Input Structure", as written.
BUSINESSES_INPUT = """
{
  "campaign_id": "uuid",
  "zip_code": "90001",
  "businesses": [
    {
      "place_id": "ChIJ...",
      "name": "Business Name",
      "address": "123 Main St",
      "email": "contact@business.com",
      "phone": "(555) 123-4567",
      "website": "https://business.com",
      "raw_data": { ... }
    }
  ]
}
"""

#: 000 §1.6 "Input Structure (Facebook)", as written.
ENRICHMENT_INPUT = """
{
  "enrichment_type": "facebook",
  "enrichments": [
    {
      "business_id": "uuid",
      "campaign_id": "uuid",
      "facebook_url": "https://facebook.com/business",
      "primary_email": "contact@business.com",
      "emails": ["contact@business.com", "info@business.com"],
      "phone_numbers": ["(555) 123-4567"],
      "raw_data": { ... }
    }
  ]
}
"""

#: 000 §1.7 "Input Structure", as written.
VERIFICATION_INPUT = """
{
  "business_id": "uuid",
  "email": "contact@business.com",
  "verification_data": {
    "status": "deliverable",
    "score": 95,
    "is_safe": true,
    "is_disposable": false,
    "is_role_based": false,
    "is_free_email": false,
    "domain": "business.com",
    "provider": "Google Workspace",
    "reason": "Accepted by mail server",
    "raw_response": { ... }
  }
}
"""


def _campaign_from_1_1(pg: Conn) -> dict[str, Any]:
    payload = _json(CAMPAIGN_INPUT)
    payload["campaign_data"]["organization_id"] = str(uuid.uuid4())
    return call_sql(
        pg,
        "create_campaign_with_coverage",
        p_campaign_data=payload["campaign_data"],
        p_zip_codes=payload["zip_codes"],
    )


def test_000_1_1_campaign_creation_with_the_documents_payload(pg: Conn) -> None:
    """§1.1's output example says "zip_count": 5 for an input with one ZIP code; it shows the
    shape, and this follows the input (1)."""
    result = _campaign_from_1_1(pg)
    assert result["success"] is True, result
    assert {"success", "campaign_id", "zip_count", "message"} <= set(result)
    assert result["zip_count"] == 1
    stored = one(
        pg,
        "SELECT name, keywords, location, coverage_profile, created_by, created_by_email, estimated_cost"
        " FROM gmaps_campaigns WHERE id = %s",
        result["campaign_id"],
    )
    assert stored == {
        "name": "Campaign Name",
        "keywords": ["keyword1", "keyword2"],
        "location": "Los Angeles, CA",
        "coverage_profile": "balanced",
        "created_by": None,
        "created_by_email": "user@example.com",
        "estimated_cost": Decimal("1.40"),
    }
    coverage = one(pg, "SELECT zip_code, keywords, max_results FROM gmaps_campaign_coverage")
    assert coverage == {"zip_code": "90001", "keywords": ["dentist", "dental"], "max_results": 200}


def _business_from_1_2(pg: Conn, campaign_id: str) -> dict[str, Any]:
    payload = _json(BUSINESSES_INPUT)
    return call_sql(
        pg,
        "insert_businesses_batch",
        p_campaign_id=campaign_id,
        p_zip_code=payload["zip_code"],
        p_businesses=payload["businesses"],
    )


def test_000_1_2_to_1_8_the_pipeline_with_the_documents_payloads(pg: Conn) -> None:
    campaign_id = _campaign_from_1_1(pg)["campaign_id"]

    # §1.2: {success, inserted, updated, skipped, total}
    batch = _business_from_1_2(pg, campaign_id)
    assert batch["success"] is True, batch
    assert (batch["inserted"], batch["updated"], batch["skipped"], batch["total"]) == (1, 0, 0, 1)
    business_id = value(pg, "SELECT id::text FROM gmaps_businesses WHERE place_id = 'ChIJ...'")

    # §1.3: {success, total_businesses, total_emails, total_facebook_pages}
    stats = call_sql(pg, "update_campaign_statistics", p_campaign_id=campaign_id)
    assert (
        stats["success"],
        stats["total_businesses"],
        stats["total_emails"],
        stats["total_facebook_pages"],
    ) == (
        True,
        1,
        1,
        0,
    )

    # §1.4 with §4.3's call: trackCost(campaign, 'google_maps', 100, 7.50, {zip_code, run_id})
    cost = call_sql(
        pg,
        "track_campaign_cost",
        p_campaign_id=campaign_id,
        p_service="google_maps",
        p_items_processed=100,
        p_cost_usd=7.50,
        p_metadata={"zip_code": "90001", "run_id": "abc123"},
    )
    assert cost["success"] is True, cost
    assert {"cost_id", "new_total", "service"} <= set(cost)
    assert (Decimal(str(cost["new_total"])), cost["service"]) == (Decimal("7.5"), "google_maps")

    # §1.5: {success, campaign_id, zip_code, businesses_found}
    coverage = call_sql(
        pg,
        "update_coverage_status",
        p_campaign_id=campaign_id,
        p_zip_code="90001",
        p_businesses_found=1,
        p_emails_found=1,
        p_actual_cost=1.40,
    )
    assert (
        coverage["success"],
        coverage["campaign_id"],
        coverage["zip_code"],
        coverage["businesses_found"],
    ) == (
        True,
        campaign_id,
        "90001",
        1,
    )

    # §1.8 before enrichment: the document's call, its columns
    pending = fetch_sql(
        pg,
        "get_businesses_for_enrichment",
        p_campaign_id=campaign_id,
        p_enrichment_type="facebook",
        p_limit=100,
        p_offset=0,
    )
    assert [r["business_id"] for r in pending] == [uuid.UUID(business_id)]
    assert (
        pending[0]["enrichment_status"],
        pending[0]["enrichment_attempts"],
        pending[0]["needs_enrichment"],
    ) == (
        "pending",
        0,
        True,
    )

    # §1.6: {success, updated, failed, enrichment_type}
    enrichment = _json(ENRICHMENT_INPUT)
    enrichment["enrichments"][0].update(business_id=business_id, campaign_id=campaign_id)
    enriched = call_sql(
        pg,
        "update_enrichment_batch",
        p_enrichment_type=enrichment["enrichment_type"],
        p_enrichments=enrichment["enrichments"],
    )
    assert (enriched["success"], enriched["updated"], enriched["failed"], enriched["enrichment_type"]) == (
        True,
        1,
        0,
        "facebook",
    )
    stored = one(
        pg, "SELECT email, email_source, facebook_url FROM gmaps_businesses WHERE id = %s", business_id
    )
    assert stored == {  # 001: linkedin > facebook > google_maps, so Facebook's email now
        "email": "contact@business.com",
        "email_source": "facebook",
        "facebook_url": "https://facebook.com/business",
    }

    # §1.7: {success, business_id, email, status, is_safe}
    verification = _json(VERIFICATION_INPUT)
    verified = call_sql(
        pg,
        "update_email_verification",
        p_business_id=business_id,
        p_email=verification["email"],
        p_verification_data=verification["verification_data"],
    )
    assert (verified["success"], verified["business_id"], verified["email"], verified["status"]) == (
        True,
        business_id,
        "contact@business.com",
        "deliverable",
    )
    assert verified["is_safe"] is True
    audit = one(pg, "SELECT provider, reason, score, raw_response FROM gmaps_email_verifications")
    assert (audit["provider"], audit["reason"], audit["score"]) == (
        "Google Workspace",
        "Accepted by mail server",
        Decimal("95"),
    )
    assert audit["raw_response"]["domain"] == "business.com"  # kept as it came

    # §1.8 after: no longer pending for Facebook, still pending for LinkedIn
    assert (
        fetch_sql(
            pg, "get_businesses_for_enrichment", p_campaign_id=campaign_id, p_enrichment_type="facebook"
        )
        == []
    )
    linkedin = fetch_sql(
        pg, "get_businesses_for_enrichment", p_campaign_id=campaign_id, p_enrichment_type="linkedin"
    )
    assert [r["email"] for r in linkedin] == ["contact@business.com"]


@pytest.mark.parametrize(
    ("sqlstate", "error", "retry"),
    [
        ("23505", "Duplicate record detected", False),
        ("23503", "Referenced record not found", False),
        ("40P01", "Operation conflict, please retry", True),
        ("40001", "Operation conflict, please retry", True),
        ("55P03", "Operation conflict, please retry", True),
        ("XX000", "Database operation failed", False),
    ],
)
def test_000_3_3_the_error_envelope_of_engine_errors(
    pg: Conn, sqlstate: str, error: str, retry: bool
) -> None:
    """§3.3's template (and Appendix A's retry column). §3.1's table words 40001 "Concurrent
    modification, please retry" and 55P03 "Resource busy, please retry", while §3.3's template,
    the one every function uses, gives all three conflicts "Operation conflict, please retry":
    this follows §3.3 (clients test retry_recommended, not the text)."""
    envelope = value(pg, "SELECT leadledger.error_envelope(%s, 'engine message')", sqlstate)
    assert envelope == {
        "success": False,
        "error": error,
        "error_code": sqlstate,
        "error_detail": "engine message",
        "retry_recommended": retry,
    }


def test_000_2_2_and_2_3_lock_and_statement_timeouts(pg: Conn) -> None:
    """§2.2: lock_timeout 5s; §2.3: statement_timeout 30s, 60s for the two batch functions."""
    settings = {
        r["proname"]: r["config"]
        for r in rows(
            pg,
            "SELECT proname, proconfig AS config FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
            " AND proname = ANY(%s)",
            [
                "create_campaign_with_coverage",
                "insert_businesses_batch",
                "update_campaign_statistics",
                "track_campaign_cost",
                "update_coverage_status",
                "update_enrichment_batch",
                "update_email_verification",
            ],
        )
    }
    for name, config in settings.items():
        assert "lock_timeout=5s" in config, name
        expected = "60s" if name in ("insert_businesses_batch", "update_enrichment_batch") else "30s"
        assert f"statement_timeout={expected}" in config, name


@pytest.mark.parametrize("zips", [["90001", "90002"]])
def test_000_4_3_the_documents_client_tests(pg: Conn, zips: list[str]) -> None:
    """§4.3.1 (JavaScript) and §4.3.2 (Python): testCampaignCreation and testCostTracking."""
    campaign_data = {
        "name": "Test Campaign",
        "keywords": ["dentist", "dental"],
        "location": "Los Angeles, CA",
        "coverage_profile": "balanced",
    }
    zip_codes = [
        {"zip_code": "90001", "keywords": ["dentist"], "max_results": 200, "estimated_cost": 1.40},
        {"zip_code": "90002", "keywords": ["dental"], "max_results": 200, "estimated_cost": 1.40},
    ]
    result = call_sql(
        pg, "create_campaign_with_coverage", p_campaign_data=campaign_data, p_zip_codes=zip_codes
    )
    assert result["success"] is True
    assert result["zip_count"] == len(zips)
    cost = call_sql(
        pg,
        "track_campaign_cost",
        p_campaign_id=result["campaign_id"],
        p_service="google_maps",
        p_items_processed=100,
        p_cost_usd=7.50,
        p_metadata={"zip_code": "90001", "run_id": "abc123"},
    )
    assert cost["success"] is True
    assert Decimal(str(cost["new_total"])) == Decimal("7.50")


# =============================================================================================
# 001: Wave 2 implementation plan
# =============================================================================================


@pytest.mark.parametrize("count", [1, 10, 100, 500])
def test_001_campaigns_with_1_10_100_500_zip_codes(pg: Conn, count: int) -> None:
    """ "Test: Create campaigns with 1, 10, 100, 500 ZIP codes"."""
    zips = [f"{90001 + n:05d}" for n in range(count)]
    result = call_sql(
        pg, "create_campaign_with_coverage", p_campaign_data={"name": "Sizes"}, p_zip_codes=zips
    )
    assert (result["success"], result["zip_count"]) == (True, count)


@pytest.mark.parametrize("size", [10, 100, 1000])
def test_001_batch_sizes_10_100_1000_businesses(pg: Conn, size: int) -> None:
    """ "Test: Batch sizes 10, 100, 1000 businesses"."""
    campaign_id = call_sql(
        pg, "create_campaign_with_coverage", p_campaign_data={"name": "B"}, p_zip_codes=["90001"]
    )["campaign_id"]
    items = [{"place_id": f"ChIJ{n}", "name": f"Business {n}"} for n in range(size)]
    result = call_sql(
        pg, "insert_businesses_batch", p_campaign_id=campaign_id, p_zip_code="90001", p_businesses=items
    )
    assert (result["inserted"], result["total"]) == (size, size)


def test_001_email_priority_linkedin_over_facebook_over_google_maps(pg: Conn) -> None:
    """ "Verify email priority (linkedin > facebook > google_maps)", in every arrival order."""
    campaign_id = _campaign_from_1_1(pg)["campaign_id"]
    _business_from_1_2(pg, campaign_id)  # google_maps: contact@business.com
    bid = value(pg, "SELECT id::text FROM gmaps_businesses")

    def save(kind: str, email: str) -> None:
        result = call_sql(
            pg,
            "update_enrichment_batch",
            p_enrichment_type=kind,
            p_enrichments=[{"business_id": bid, "primary_email": email}],
        )
        assert result["updated"] == 1

    save("linkedin", "li@business.com")
    save("facebook", "fb@business.com")  # lower than linkedin: does not replace it
    assert one(pg, "SELECT email, email_source FROM gmaps_businesses") == {
        "email": "li@business.com",
        "email_source": "linkedin",
    }
    _business_from_1_2(pg, campaign_id)  # a Google Maps re-scrape replaces neither
    assert value(pg, "SELECT email_source FROM gmaps_businesses") == "linkedin"


def test_001_three_verification_variants_are_one_function(pg: Conn) -> None:
    """ "Email Verification (3 variants)": Google Maps, Facebook and LinkedIn emails all go
    through update_email_verification, which sets the status where the email came from, and a
    duplicate verification changes nothing but the audit log (D40)."""
    campaign_id = _campaign_from_1_1(pg)["campaign_id"]
    _business_from_1_2(pg, campaign_id)
    bid = value(pg, "SELECT id::text FROM gmaps_businesses")
    call_sql(pg, "update_enrichment_batch", p_enrichment_type="facebook",
             p_enrichments=[{"business_id": bid, "primary_email": "fb@business.com"}])  # fmt: skip
    call_sql(pg, "update_enrichment_batch", p_enrichment_type="linkedin",
             p_enrichments=[{"business_id": bid, "primary_email": "li@business.com"}])  # fmt: skip
    for email, source in [("li@business.com", "linkedin"), ("fb@business.com", "facebook")]:
        for _ in range(2):  # the second is the duplicate
            result = call_sql(pg, "update_email_verification", p_business_id=bid, p_email=email,
                              p_verification_data={"status": "deliverable", "is_safe": True})  # fmt: skip
            assert (result["success"], result["sources"]) == (True, [source])
    assert value(pg, "SELECT count(*) FROM gmaps_email_verifications") == 4


def test_001_is_valid_status_transition_helper(pg: Conn) -> None:
    """ "1 helper function: is_valid_status_transition()"."""
    assert value(pg, "SELECT public.is_valid_status_transition('draft', 'running')") is True
    assert value(pg, "SELECT public.is_valid_status_transition('completed', 'running')") is False


# =============================================================================================
# 003: Database Transaction Implementation (leads)
# =============================================================================================


@pytest.fixture
def user_id(pg: Conn) -> str:
    return str(value(pg, "SELECT (public.create_app_user('owner@example.com', 'Owner')) ->> 'user_id'"))


def test_003_create_lead_with_conversation_signature(pg: Conn) -> None:
    """The SQL block: seven parameters, two with defaults ('active', 'new'), RETURNS JSON; then
    the organization (issue 10 adds parameters only last and with a default, so 003's calls
    stand)."""
    row = one(
        pg,
        "SELECT pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result"
        " FROM pg_proc p WHERE p.proname = 'create_lead_with_conversation'",
    )
    assert row["result"] == "json"
    assert row["args"] == (
        "p_user_id uuid, p_customer_phone text, p_customer_name text, p_lead_type text, "
        "p_details text DEFAULT NULL::text, p_conversation_status text DEFAULT 'active'::text, "
        "p_lead_status text DEFAULT 'new'::text, p_organization_id uuid DEFAULT NULL::uuid"
    )


def test_003_rollback_example(pg: Conn, user_id: str) -> None:
    """'This will fail and rollback due to invalid lead type' -> {"success": false, "error":
    "..."}; no orphaned records."""
    result = value(
        pg,
        "SELECT create_lead_with_conversation(%s, '+1234567890', 'John Doe', 'invalid_type', 'Test details')",
        user_id,
    )
    assert result["success"] is False
    assert result["error"]
    assert value(pg, "SELECT count(*) FROM leads") == value(pg, "SELECT count(*) FROM conversations") == 0


@pytest.fixture
def api(db_url: str, database: Database) -> Iterator[tuple[TestClient, dict[str, str]]]:
    user = new_member(database, "owner@example.com", "Owner")
    key = user.key
    # The organization's WhatsApp number sends (issue 10), with the deployment's access token.
    LeadsClient(database).link_whatsapp_number(user.user_id, "100200300400")
    with FakeWhatsAppServer(token="wa-token") as fake:
        settings = make_settings(
            db_url,
            whatsapp_api_base_url=fake.base_url,
            whatsapp_access_token=SecretStr("wa-token"),
        )
        with TestClient(create_app(settings, database_url=db_url)) as test_client:
            yield test_client, {"X-API-Key": key}


def test_003_usage_patterns_over_http(api: tuple[TestClient, dict[str, str]], pg: Conn) -> None:
    """The three fetch() calls of "Usage Patterns", in the document's order, bodies as written."""
    client, auth = api
    created = client.post(
        "/api/leads",
        headers=auth,
        json={
            "customer_phone": "+1234567890",
            "customer_name": "John Doe",
            "type": "order",
            "details": "Customer wants to place an order",
        },
    )
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"lead_id", "conversation_id"}  # "Returns: { lead_id, conversation_id }"

    message_only = client.post(
        "/api/whatsapp",
        headers=auth,
        json={"to": "+1234567890", "message": "Hello! How can we help you?", "createLead": False},
    )
    assert message_only.status_code == 201, message_only.text
    assert message_only.json()["lead_created"] is False

    with_lead = client.post(
        "/api/whatsapp",
        headers=auth,
        json={
            "to": "+1234567890",
            "message": "Hello John! How can we help you?",
            "createLead": True,
            "customerName": "John Doe",
        },
    )
    assert with_lead.status_code == 201, with_lead.text
    assert value(pg, "SELECT count(*) FROM leads") == 1  # the lead of the first call, not a second
    assert value(pg, "SELECT count(*) FROM messages") == 2


def test_003_send_message_only_to_a_new_number(api: tuple[TestClient, dict[str, str]], pg: Conn) -> None:
    """ "Send message only (no lead creation)" to a number nobody created a lead for: sent,
    "without lead tracking", nothing stored."""
    client, auth = api
    sent = client.post(
        "/api/whatsapp",
        headers=auth,
        json={"to": "+1234567890", "message": "Hello! How can we help you?", "createLead": False},
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["recorded"] is False
    assert value(pg, "SELECT count(*) FROM leads") == value(pg, "SELECT count(*) FROM messages") == 0


# =============================================================================================
# 004: Database Implementation Plan (ETL engine)
# =============================================================================================

#: §1.4 "Validation Rules", as written.
VALIDATION_RULES = """
new → valid | invalid
valid → ready | waiting
ready → in_progress
in_progress → done | failed | timedout
waiting → ready | invalid | timedout
done → delivered
"""

STATES = [
    "new",
    "valid",
    "invalid",
    "waiting",
    "ready",
    "in_progress",
    "timedout",
    "failed",
    "done",
    "delivered",
]


def test_004_1_4_validation_rules(pg: Conn) -> None:
    allowed = set()
    for line in VALIDATION_RULES.strip().splitlines():
        source, targets = line.split(" → ")
        allowed |= {(source, t.strip()) for t in targets.split("|")}
    for a in STATES:
        for b in STATES:
            assert value(pg, "SELECT etl_api.is_valid_state_transition(%s, %s)", a, b) is (
                (a, b) in allowed
            ), (a, b)


@pytest.mark.parametrize(
    "enum", ["activity_request_state", "run_queue_state", "run_request_state", "workflow_request_state"]
)
def test_004_1_3_state_enums(pg: Conn, enum: str) -> None:
    labels = value(pg, f"SELECT enum_range(NULL::etl_api.{enum})::text[]")
    assert labels == STATES


#: §1.1 "Current Status Mapping", as written. missing_value -> invalid_missing_value reads as the
#: state invalid with substate missing_value (004 §1.2.1 "Update 'missing_value' to
#: 'invalid_missing_value'"; §1.3 has no such state): D31.
STATUS_MAPPING = """
- `pending` → `new`
- `validation` → `valid` (temporary state during validation)
- `ACTIVITY_PROCESSED` → `ready`
- `waiting` → `waiting` (with substates)
- `running` → `in_progress`
- `processing` → `in_progress`
- `missing_value` → `invalid_missing_value`
- `completed` → `done`
- `DONE` → `done`
- `failed` → `failed`
"""


def test_004_1_1_current_status_mapping(pg: Conn) -> None:
    for line in STATUS_MAPPING.strip().splitlines():
        legacy, new = (part.split("`")[1] for part in line.split(" → "))
        mapped = one(pg, "SELECT state, substate FROM etl_api.map_legacy_status(%s)", legacy)
        expected = ("invalid", "missing_value") if new == "invalid_missing_value" else (new, None)
        assert (mapped["state"], mapped["substate"]) == expected, legacy


#: §2.3 "Factor Type Formula Matrix": (type, example guardrail, example use case).
FACTOR_MATRIX = [
    ("volume", "Company's employees is more than 100", "How many employees does the company have?"),
    ("boolean", "Company is public", "Is the company public?"),
    ("option", "Company's industry is technology", "What is the company's industry?"),
    ("time", "Company's founded_date is after 2020", "When was the company founded?"),
    ("place", "Company's location is in San Francisco", "Where is the company located?"),
    ("frequency", "Company's update_frequency is more than weekly", "How often does the company update?"),
    ("reason", "Company's success_reason is innovation", "Why does the company succeed?"),
    ("entity", "Company's technology is React", "What technology does the company use?"),
    ("similarity", "Company's profile is similar to TechCorp", "How similar is the company's profile?"),
]

#: The guardrail examples as (datapoint, operator, value) that produce them. "is after",
#: "is in" and "is similar to" are no operator of the enum: they read as equals + the words.
GUARDRAIL_ARGUMENTS = {
    "volume": ("employees", "greater_than", "100"),
    "boolean": ("public", "equals", None),
    "option": ("industry", "equals", "technology"),
    "time": ("founded_date", "equals", "after 2020"),
    "place": ("location", "equals", "in San Francisco"),
    "frequency": ("update_frequency", "greater_than", "weekly"),
    "reason": ("success_reason", "equals", "innovation"),
    "entity": ("technology", "equals", "React"),
    "similarity": ("profile", "equals", "similar to TechCorp"),
}

#: The use-case examples' datapoints (founded, located, update, succeed as the sentences use them).
USE_CASE_DATAPOINTS = {
    "volume": "employees",
    "boolean": "public",
    "option": "industry",
    "time": "founded",
    "place": "located",
    "frequency": "update",
    "reason": "succeed",
    "entity": "technology",
    "similarity": "profile",
}


@pytest.mark.parametrize(("factor_type", "guardrail", "use_case"), FACTOR_MATRIX)
def test_004_2_3_factor_description_matrix(pg: Conn, factor_type: str, guardrail: str, use_case: str) -> None:
    datapoint, operator, val = GUARDRAIL_ARGUMENTS[factor_type]
    assert (
        value(
            pg,
            "SELECT generate_factor_description(%s, 'Company', %s, %s, %s, true)",
            factor_type,
            datapoint,
            operator,
            val,
        )
        == guardrail
    )
    assert (
        value(
            pg,
            "SELECT generate_factor_description(%s, 'company', %s, NULL, NULL, false)",
            factor_type,
            USE_CASE_DATAPOINTS[factor_type],
        )
        == use_case
    )


#: §2.3 "Operator Phrases Matrix": (operator, example).
OPERATOR_MATRIX = [
    ("equals", "Company's industry is technology"),
    ("not_equals", "Company's industry is not healthcare"),
    ("greater_than", "Company's employees is more than 100"),
    ("greater_equal", "Company's employees is at least 50"),
    ("less_than", "Company's employees is less than 1000"),
    ("less_equal", "Company's employees is at most 500"),
    ("contains", "Company's description contains AI"),
    ("not_contains", "Company's description does not contain blockchain"),
    ("starts_with", "Company's name starts with Tech"),
    ("ends_with", "Company's name ends with Corp"),
    ("in", "Company's industry is one of technology, healthcare"),
    ("not_in", "Company's industry is not one of retail, finance"),
    ("between", "Company's employees is between 100 and 500"),
    ("is_null", "Company's description is empty"),
    ("is_not_null", "Company's description is not empty"),
    ("like", "Company's name is like Tech%"),
    ("ilike", "Company's name is like tech%"),
    ("regex", "Company's name matches ^[A-Z]"),
    ("not_regex", "Company's name does not match ^[0-9]"),
]


def test_004_2_1_operator_enum_has_the_documents_19_labels(pg: Conn) -> None:
    labels = value(pg, "SELECT enum_range(NULL::operator_enum)::text[]")
    assert labels == [op for op, _ in OPERATOR_MATRIX]


@pytest.mark.parametrize(("operator", "example"), OPERATOR_MATRIX)
def test_004_2_3_operator_phrases_matrix(pg: Conn, operator: str, example: str) -> None:
    rest = example.removeprefix("Company's ")
    datapoint = rest.split(" ", 1)[0]
    phrase = value(pg, "SELECT phrase FROM etl_api.operator_phrase WHERE operator = %s", operator)
    val = rest.removeprefix(f"{datapoint} {phrase}").strip() or None
    assert (
        value(
            pg,
            "SELECT generate_factor_description('option', 'Company', %s, %s, %s, true)",
            datapoint,
            operator,
            val,
        )
        == example
    )
