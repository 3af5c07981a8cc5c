"""Every domain's functions called the way Supabase's ``rpc()`` calls them through PostgREST: in a
transaction that sets ``role`` and ``request.jwt.claims`` locally, with named arguments, then
commits. The role is ``leadledger_service`` (what Supabase's ``service_role`` is granted): it may
execute the functions but not write the tables, which have row level security on, so this also
proves the functions and their triggers (deferred ones run at COMMIT, as that role) need nothing
more."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.rows import dict_row

from leadledger.db.rpc import build_call
from tests.campaigns.conftest import apify_item

SERVICE_CLAIMS = {"role": "service_role", "sub": "00000000-0000-4000-8000-00000000abcd"}


def rpc(db_url: str, function: str, *, claims: dict[str, Any] | None = None, **params: Any) -> Any:
    """One PostgREST-style call of a JSONB-returning function; its value."""
    rows = _call(db_url, function, params, claims, rows=False)
    return rows[0]["value"]


def rpc_rows(db_url: str, function: str, *, claims: dict[str, Any] | None = None, **params: Any) -> Any:
    """One PostgREST-style call of a table-returning function; its rows."""
    return _call(db_url, function, params, claims, rows=True)


def _call(
    db_url: str, function: str, params: dict[str, Any], claims: dict[str, Any] | None, *, rows: bool
) -> list[dict[str, Any]]:
    statement, values = build_call(function, params, rows=rows)
    with psycopg.connect(db_url) as conn:  # a transaction, as PostgREST opens one per request
        conn.execute("SELECT set_config('role', 'leadledger_service', true)")
        conn.execute(
            "SELECT set_config('request.jwt.claims', %s, true)", [json.dumps(claims or SERVICE_CLAIMS)]
        )
        with psycopg.ClientCursor(conn, row_factory=dict_row) as cur:
            cur.execute(statement if rows else psycopg.sql.SQL("{} AS value").format(statement), values)
            found = cur.fetchall()
        conn.commit()
    return found


def ok(db_url: str, function: str, **params: Any) -> dict[str, Any]:
    result = rpc(db_url, function, **params)
    assert result["success"] is True, (function, result)
    return dict(result)


def test_the_campaign_pipeline_through_rpc(db_url: str) -> None:
    campaign = ok(
        db_url,
        "create_campaign_with_coverage",
        p_campaign_data={"name": "rpc dentists", "keywords": ["dentist"]},
        p_zip_codes=["78701", "78702"],
    )["campaign_id"]
    batch = ok(
        db_url,
        "insert_businesses_batch",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses=[apify_item(f"ChIJrpc{n}", n) for n in range(5)],
    )
    assert batch["inserted"] == 5
    ok(db_url, "transition_campaign_status", p_campaign_id=campaign, p_new_status="running")
    cost = ok(
        db_url,
        "track_campaign_cost",
        p_campaign_id=campaign,
        p_service="google_maps",
        p_items_processed=5,
        p_cost_usd=0.25,
    )
    assert str(cost["new_total"]) in ("0.25", "0.250000")
    ok(
        db_url,
        "update_coverage_status",
        p_campaign_id=campaign,
        p_zip_code="78701",
        p_businesses_found=5,
        p_emails_found=5,
        p_actual_cost=0.25,
    )
    pending = rpc_rows(
        db_url, "get_businesses_for_enrichment", p_campaign_id=campaign, p_enrichment_type="facebook"
    )
    assert len(pending) == 5
    claim = ok(
        db_url,
        "claim_businesses_for_enrichment",
        p_campaign_id=campaign,
        p_enrichment_type="facebook",
        p_worker="rpc-worker",
        p_limit=2,
    )
    claimed = [b["business_id"] for b in claim["businesses"]]
    enriched = ok(
        db_url,
        "update_enrichment_batch",
        p_enrichment_type="facebook",
        p_enrichments=[{"business_id": b, "facebook_url": f"https://facebook.com/{b}"} for b in claimed],
    )
    assert enriched["updated"] == 2
    ok(
        db_url,
        "save_linkedin_enrichment",
        p_business_id=claimed[0],
        p_campaign_id=campaign,
        p_enrichment={"linkedin_url": "https://linkedin.com/company/x", "emails": ["owner@x.example.com"]},
    )
    verified = ok(
        db_url,
        "update_email_verification",
        p_business_id=claimed[0],
        p_email="owner@x.example.com",
        p_verification_data={"status": "deliverable", "score": 99},
    )
    assert verified["status"] == "deliverable"
    stats = ok(db_url, "update_campaign_statistics", p_campaign_id=campaign)
    assert (stats["total_businesses"], stats["total_verified_emails"]) == (5, 1)
    overview = ok(db_url, "get_campaign_overview", p_campaign_id=campaign)
    assert overview["campaign"]["status"] == "running"
    assert len(rpc_rows(db_url, "list_campaigns")) == 1


def test_leads_and_whatsapp_through_rpc(db_url: str) -> None:
    user = ok(db_url, "create_app_user", p_email="rpc@example.com", p_name="Rpc")["user_id"]
    created = ok(
        db_url,
        "create_lead_with_conversation",
        p_user_id=user,
        p_customer_phone="+15125550100",
        p_customer_name="Ana",
        p_lead_type="quote",
    )
    message = ok(
        db_url,
        "record_whatsapp_message",
        p_user_id=user,
        p_wa_message_id="wamid.rpc",
        p_from_phone="15125550100",
        p_body="hello",
    )
    assert message["lead_id"] == created["lead_id"]
    bulk = ok(
        db_url,
        "create_leads_with_conversations",
        p_user_id=user,
        p_leads=[{"customer_phone": "+15125550101", "customer_name": "Bo", "lead_type": "booking"}],
    )
    assert bulk["created"] == 1
    ok(db_url, "soft_delete_lead", p_lead_id=created["lead_id"])
    ok(db_url, "restore_lead", p_lead_id=created["lead_id"])
    # An end user's own JWT (Supabase's authenticated role is granted these where it exists).
    mine = rpc_rows(db_url, "list_leads", claims={"sub": user, "role": "authenticated"}, p_user_id=user)
    assert {row["customer_name"] for row in mine} == {"Ana", "Bo"}


def test_the_etl_reads_and_factor_descriptions_through_rpc(db_url: str) -> None:
    assert rpc_rows(db_url, "etl_api.get_state_counts") == []
    sentence = rpc(
        db_url,
        "generate_factor_description",
        factor_type="volume",
        object_type_name="Company",
        datapoint_name="employees",
        operator_name="greater_than",
        value="50",
    )
    assert sentence == "Company's employees is more than 50"
