"""/api/campaigns over HTTP: authentication, status codes, validation naming the field, nothing
written on error."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from leadledger.api import create_app
from leadledger.campaigns.importer import sample_dataset
from leadledger.db import Database
from tests.conftest import make_settings
from tests.helpers import scalar
from tests.tenants import new_member


@pytest.fixture
def user_key(database: Database) -> tuple[str, str]:
    """A user and an API key of theirs: (user id, key)."""
    user = new_member(database, f"ops-{uuid4().hex[:6]}@example.com", "Ops")
    key = user.key
    return str(user.user_id), key


@pytest.fixture
def anonymous(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(db_url), database_url=db_url)) as client:
        yield client


@pytest.fixture
def api(anonymous: TestClient, user_key: tuple[str, str]) -> TestClient:
    anonymous.headers["X-API-Key"] = user_key[1]
    return anonymous


def create(api: TestClient, **overrides: Any) -> str:
    body = {
        "name": "Austin dentists",
        "keywords": ["dentist"],
        "zip_codes": [{"zip_code": "78701"}, {"zip_code": "78702"}],
    }
    response = api.post("/api/campaigns", json={**body, **overrides})
    assert response.status_code == 201, response.text
    return str(response.json()["campaign_id"])


def test_create_get_and_list(api: TestClient) -> None:
    campaign_id = create(api)
    overview = api.get(f"/api/campaigns/{campaign_id}")
    assert overview.status_code == 200
    body = overview.json()
    assert body["campaign"]["name"] == "Austin dentists"
    assert body["coverage"]["zips_total"] == 2
    assert body["costs_by_service"] == {}
    listed = api.get("/api/campaigns", params={"limit": 10})
    assert listed.json()["next_cursor"] is None
    assert [c["id"] for c in listed.json()["items"]] == [campaign_id]
    assert api.get("/api/campaigns", params={"status": "running"}).json() == {
        "items": [],
        "next_cursor": None,
    }


ANY_ID = "00000000-0000-4000-8000-000000000001"
ROUTES = [
    ("post", "/api/campaigns", {"name": "x", "zip_codes": [{"zip_code": "78701"}]}),
    ("get", "/api/campaigns", None),
    ("get", f"/api/campaigns/{ANY_ID}", None),
    ("post", f"/api/campaigns/{ANY_ID}/transitions", {"status": "running"}),
    ("post", f"/api/campaigns/{ANY_ID}/businesses", {"businesses": []}),
    ("post", f"/api/campaigns/{ANY_ID}/costs", {"service": "bouncer", "items_processed": 1, "cost_usd": 1}),
    ("post", f"/api/campaigns/{ANY_ID}/statistics", None),
    ("put", f"/api/campaigns/{ANY_ID}/coverage/78701", {"businesses_found": 1}),
    ("get", f"/api/campaigns/{ANY_ID}/enrichment/facebook", None),
    ("post", f"/api/campaigns/{ANY_ID}/claims", {"enrichment_type": "facebook", "worker": "w"}),
    ("post", "/api/campaigns/enrichments/facebook", []),
    ("post", f"/api/campaigns/businesses/{ANY_ID}/verifications", {"email": "a@b.example"}),
]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "llk_not-a-key"}, {"Authorization": "Basic dXNlcjpwdw=="}],
    ids=["none", "unknown-key", "wrong-scheme"],
)
def test_every_route_needs_authentication_and_writes_nothing(
    anonymous: TestClient, conn: psycopg.Connection[Any], headers: dict[str, str]
) -> None:
    before = table_counts(conn)
    for method, path, body in ROUTES:
        response = anonymous.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert table_counts(conn) == before


def test_the_caller_is_created_by_and_the_body_cannot_say_otherwise(
    api: TestClient, user_key: tuple[str, str], conn: psycopg.Connection[Any]
) -> None:
    campaign_id = create(api)
    created_by = scalar(conn, "SELECT created_by::text FROM gmaps_campaigns WHERE id = %s", campaign_id)
    assert created_by == user_key[0]
    forged = api.post(
        "/api/campaigns",
        json={"name": "x", "created_by": str(uuid4()), "zip_codes": [{"zip_code": "78701"}]},
    )
    assert forged.status_code == 422
    assert "created_by" in forged.text
    assert scalar(conn, "SELECT count(*) FROM gmaps_campaigns") == 1


def table_counts(conn: psycopg.Connection[Any]) -> tuple[int, ...]:
    tables = ("gmaps_campaigns", "gmaps_campaign_coverage", "gmaps_businesses", "gmaps_api_costs")
    return tuple(scalar(conn, f"SELECT count(*) FROM {t}") for t in tables)


def test_validation_is_422_naming_the_field_and_writes_nothing(
    api: TestClient, conn: psycopg.Connection[Any]
) -> None:
    cases = [
        ({"name": "x", "zip_codes": [{"zip_code": "7870"}]}, "zip_code"),
        ({"name": "x", "zip_codes": []}, "zip_codes"),
        ({"zip_codes": [{"zip_code": "78701"}]}, "name"),
        ({"name": "x", "zip_codes": [{"zip_code": "78701"}, {"zip_code": "78701"}]}, "listed more than once"),
        ({"name": "x", "zip_codes": "78701"}, "zip_codes"),
    ]
    for body, field in cases:
        response = api.post("/api/campaigns", json=body)
        assert response.status_code == 422, body
        assert field in response.text
    assert scalar(conn, "SELECT count(*) FROM gmaps_campaigns") == 0
    assert scalar(conn, "SELECT count(*) FROM gmaps_campaign_coverage") == 0


def test_business_batch_costs_statistics_and_coverage(api: TestClient) -> None:
    campaign_id = create(api)
    batch = api.post(
        f"/api/campaigns/{campaign_id}/businesses",
        json={"zip_code": "78701", "businesses": sample_dataset()[:10]},
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["inserted"] == 10
    bad = api.post(
        f"/api/campaigns/{campaign_id}/businesses",
        json={"businesses": [{"placeId": "x", "totalScore": "high"}]},
    )
    assert bad.status_code == 422
    assert "p_businesses[0]" in bad.json()["error"]
    cost = api.post(
        f"/api/campaigns/{campaign_id}/costs",
        json={"service": "google_maps", "items_processed": 10, "cost_usd": "0.04"},
    )
    assert cost.status_code == 201
    assert Decimal(cost.json()["new_total"]) == Decimal("0.04")  # money travels as an exact string
    assert (
        api.post(
            f"/api/campaigns/{campaign_id}/costs",
            json={"service": "fax", "items_processed": 1, "cost_usd": 1},
        ).status_code
        == 422
    )
    assert (
        api.post(
            f"/api/campaigns/{campaign_id}/costs",
            json={"service": "bouncer", "items_processed": -1, "cost_usd": 1},
        ).status_code
        == 422
    )
    coverage = api.put(
        f"/api/campaigns/{campaign_id}/coverage/78701",
        json={"businesses_found": 10, "emails_found": 6, "actual_cost": "0.04"},
    )
    assert coverage.status_code == 200
    assert (
        api.put(
            f"/api/campaigns/{campaign_id}/coverage/99999",
            json={"businesses_found": 1, "emails_found": 0, "actual_cost": 0},
        ).status_code
        == 404
    )
    stats = api.post(f"/api/campaigns/{campaign_id}/statistics")
    assert stats.json()["total_businesses"] == 10
    overview = api.get(f"/api/campaigns/{campaign_id}").json()
    assert overview["costs_by_service"]["google_maps"]["calls"] == 1
    assert overview["coverage"]["zips_scraped"] == 1


def test_claims_enrichment_and_verification(api: TestClient) -> None:
    campaign_id = create(api)
    api.post(
        f"/api/campaigns/{campaign_id}/businesses",
        json={"zip_code": "78701", "businesses": sample_dataset()[:6]},
    )
    first = api.post(
        f"/api/campaigns/{campaign_id}/claims",
        json={"enrichment_type": "facebook", "worker": "a", "limit": 4},
    )
    second = api.post(
        f"/api/campaigns/{campaign_id}/claims",
        json={"enrichment_type": "facebook", "worker": "b", "limit": 4},
    )
    a = {b["business_id"] for b in first.json()["businesses"]}
    b = {b["business_id"] for b in second.json()["businesses"]}
    assert (len(a), len(b), a & b) == (4, 2, set())
    assert (
        api.post(
            f"/api/campaigns/{campaign_id}/claims", json={"enrichment_type": "myspace", "worker": "a"}
        ).status_code
        == 422
    )
    pending = api.get(f"/api/campaigns/{campaign_id}/enrichment/linkedin", params={"limit": 2}).json()
    assert len(pending["items"]) == 2
    rest = api.get(
        f"/api/campaigns/{campaign_id}/enrichment/linkedin", params={"cursor": pending["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 4  # the other four of the six, after the first two
    assert rest["next_cursor"] is None
    assert {b["business_id"] for b in pending["items"]}.isdisjoint(b["business_id"] for b in rest["items"])
    business_id = pending["items"][0]["business_id"]
    enriched = api.post(
        "/api/campaigns/enrichments/linkedin",
        json=[
            {"business_id": business_id, "primary_email": "owner@clinic.com"},
            {"business_id": str(uuid4())},
        ],
    )
    assert enriched.status_code == 200
    assert (enriched.json()["updated"], enriched.json()["failed"]) == (1, 1)
    verified = api.post(
        f"/api/campaigns/businesses/{business_id}/verifications",
        json={
            "email": "owner@clinic.com",
            "verification": {"status": "undeliverable", "reason": "rejected_email"},
        },
    )
    assert verified.status_code == 200
    assert verified.json()["sources"] == ["linkedin"]
    unknown = api.post(
        f"/api/campaigns/businesses/{uuid4()}/verifications",
        json={"email": "a@b.co", "verification": {"status": "risky"}},
    )
    assert unknown.status_code == 404


def test_transitions_and_conflicts(api: TestClient) -> None:
    campaign_id = create(api)
    assert (
        api.post(f"/api/campaigns/{campaign_id}/transitions", json={"status": "running"}).status_code == 200
    )
    conflict = api.post(f"/api/campaigns/{campaign_id}/transitions", json={"status": "draft"})
    assert conflict.status_code == 409
    assert conflict.json() == {
        "error": "Invalid status transition from running to draft",
        "error_code": "P0001",
    }
    assert api.post(f"/api/campaigns/{campaign_id}/transitions", json={"status": "done"}).status_code == 422
    assert api.post(f"/api/campaigns/{uuid4()}/transitions", json={"status": "running"}).status_code == 404
    assert api.get(f"/api/campaigns/{uuid4()}").status_code == 404
    assert api.get("/api/campaigns/not-a-uuid").status_code == 422
