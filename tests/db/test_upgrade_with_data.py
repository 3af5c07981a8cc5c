"""Issue 10's migration test: a database of the schema as it landed before organizations (the
texts of git 20c4d12, read through the replaces markers), with data in every domain written by
that version's own functions, upgrades in place: every user owns an organization of his own,
everything of his follows him, campaigns follow their creator (else their organization_id, else
the default organization), children follow their parents, ETL rows keep their organizations,
and no row of any table is left without one (D46)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import psycopg
import pytest

from leadledger.db.migrations import META_SCHEMA, MigrationRunner, discover
from tests.db.test_current_state import as_landed
from tests.helpers import catalog_snapshot, one, rows, scalar

Conn = psycopg.Connection[Any]

LANDED_HEAD = "20261123030300"


@pytest.fixture
def landed(empty_db_url: str) -> Any:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        MigrationRunner(
            conn, [m for m in as_landed(discover()) if m.version <= LANDED_HEAD], current=[]
        ).upgrade()
        yield conn


def _call(conn: Conn, query: str, *params: Any) -> Any:
    result = scalar(conn, query, *params)
    if isinstance(result, dict):
        assert result.get("success") is True, result
    return result


def _fill(conn: Conn) -> dict[str, Any]:
    """Data in every domain, written by the landed version's functions."""
    ann = _call(conn, "SELECT create_app_user('ann@example.com', 'Ann')")["user_id"]
    bob = _call(conn, "SELECT create_app_user('bob@example.com', 'Bob')")["user_id"]
    _call(conn, "SELECT create_api_key(%s, %s, 'ann key')", ann, hashlib.sha256(b"llk_ann").hexdigest())
    lead = _call(
        conn, "SELECT create_lead_with_conversation(%s, '+15125550100', 'Carla', 'quote', 'roof')::jsonb", ann
    )["lead_id"]
    _call(conn, "SELECT link_whatsapp_number(%s, '100200300400', '+1 555')", bob)
    inbound = _call(
        conn, "SELECT record_whatsapp_message(%s, 'wamid.landed', '15125550199', 'Hi', 'Dee')", bob
    )
    preset = str(uuid.uuid4())
    campaigns = {
        "by_ann": _call(
            conn,
            "SELECT create_campaign_with_coverage(%s::jsonb, '[\"78701\"]')",
            f'{{"name": "Ann\'s", "created_by": "{ann}"}}',
        )["campaign_id"],
        "preset": _call(
            conn,
            "SELECT create_campaign_with_coverage(%s::jsonb, '[\"78702\"]')",
            f'{{"name": "Preset", "organization_id": "{preset}"}}',
        )["campaign_id"],
        "nobody": _call(conn, 'SELECT create_campaign_with_coverage(\'{"name": "Nobody"}\', \'["78703"]\')')[
            "campaign_id"
        ],
    }
    for name, campaign in campaigns.items():
        _call(
            conn,
            "SELECT insert_businesses_batch(%s, NULL, %s::jsonb)",
            campaign,
            f'[{{"placeId": "p-{name}", "title": "B", "emails": ["x@{name}.example.com"]}}]',
        )
        _call(conn, "SELECT track_campaign_cost(%s, 'google_maps', 1, 0.5)", campaign)
        _call(conn, "SELECT transition_campaign_status(%s, 'running')", campaign)
        _call(conn, "SELECT claim_businesses_for_enrichment(%s, 'facebook', 'w1')", campaign)
        business = scalar(conn, "SELECT id FROM gmaps_businesses WHERE campaign_id = %s", campaign)
        _call(
            conn,
            'SELECT update_email_verification(%s, %s, \'{"status": "deliverable"}\')',
            business,
            f"x@{name}.example.com",
        )
        _call(
            conn,
            "SELECT update_enrichment_batch('linkedin', %s::jsonb)",
            f'[{{"business_id": "{business}"}}]',
        )
    org = scalar(conn, "INSERT INTO etl_api.org (name) VALUES ('Acme ETL') RETURNING id")
    conn.execute("INSERT INTO etl_api.activity_request (org_id, activity_type) VALUES (%s, 'enrich')", [org])
    conn.execute(
        "INSERT INTO public.factor (org_id, factor_type, object_type_name, datapoint_name)"
        " VALUES (%s, 'volume', 'c', 'e')",
        [org],
    )
    conn.execute(
        "INSERT INTO public.factor (factor_type, object_type_name, datapoint_name)"
        " VALUES ('boolean', 'c', 'p')"
    )
    return {
        "ann": ann,
        "bob": bob,
        "lead": lead,
        "inbound": inbound,
        "preset": preset,
        "campaigns": campaigns,
        "etl_org": str(org),
    }


def _organization_of(conn: Conn, user: str) -> str:
    found = rows(
        conn, "SELECT organization_id::text, role FROM organization_members WHERE user_id = %s", user
    )
    assert [r["role"] for r in found] == ["owner"], found
    return str(found[0]["organization_id"])


def test_a_database_with_data_upgrades_into_organizations(landed: Conn, db_url: str) -> None:
    data = _fill(landed)
    MigrationRunner(landed).upgrade()

    ann_org, bob_org = _organization_of(landed, data["ann"]), _organization_of(landed, data["bob"])
    default = str(scalar(landed, "SELECT id FROM organizations WHERE is_default"))
    assert len({ann_org, bob_org, default}) == 3

    assert one(landed, "SELECT organization_id::text AS o FROM api_keys")["o"] == ann_org
    assert scalar(landed, "SELECT organization_id::text FROM leads WHERE id = %s", data["lead"]) == ann_org
    conversations = (
        "SELECT DISTINCT c.organization_id::text FROM conversations c JOIN leads l ON l.id = c.lead_id"
    )
    assert scalar(landed, conversations + " WHERE l.user_id = %s", data["ann"]) == ann_org
    assert scalar(landed, "SELECT organization_id::text FROM whatsapp_numbers") == bob_org
    assert (
        scalar(landed, "SELECT organization_id::text FROM messages WHERE wa_message_id = 'wamid.landed'")
        == bob_org
    )

    campaign_orgs = {
        name: str(scalar(landed, "SELECT organization_id FROM gmaps_campaigns WHERE id = %s", cid))
        for name, cid in data["campaigns"].items()
    }
    assert campaign_orgs == {"by_ann": ann_org, "preset": data["preset"], "nobody": default}
    assert scalar(landed, "SELECT count(*) FROM organizations WHERE id = %s", data["preset"]) == 1
    children = (
        "gmaps_campaign_coverage",
        "gmaps_businesses",
        "gmaps_api_costs",
        "gmaps_email_verifications",
        "gmaps_campaign_status_history",
        "gmaps_linkedin_enrichments",
    )
    for table in children:
        mismatched = scalar(
            landed,
            f"SELECT count(*) FROM {table} t JOIN gmaps_campaigns c ON c.id = t.campaign_id"
            " WHERE t.organization_id IS DISTINCT FROM c.organization_id",
        )
        assert mismatched == 0, table

    assert scalar(landed, "SELECT count(*) FROM organizations WHERE id = %s", data["etl_org"]) == 1
    assert scalar(landed, "SELECT DISTINCT org_id::text FROM etl_api.activity_request") == data["etl_org"]

    # No row of any table is left without its organization.
    for column in rows(
        landed,
        """SELECT a.attrelid::regclass::text AS t, a.attname AS col
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname IN ('public', 'etl_api') AND NOT a.attisdropped
              AND a.attname IN ('organization_id', 'org_id')""",
    ):
        assert scalar(landed, f"SELECT count(*) FROM {column['t']} WHERE {column['col']} IS NULL") == 0, (
            column
        )

    # And the upgraded database is the schema of a new one.
    with psycopg.connect(db_url) as fresh:
        assert catalog_snapshot(landed, exclude=(META_SCHEMA,)) == catalog_snapshot(
            fresh, exclude=(META_SCHEMA,)
        )
