"""Fixtures and helpers of the campaign SQL tests (tests/campaigns/test_sql_*.py).

Two kinds of database:

- ``pg`` / ``database`` (from tests/conftest.py): a fresh migrated clone per test, for every test
  that expects a write.
- ``shared``: one clone per test module, seeded once (``shared_seed``), for the long tables of bad
  inputs. Each of those tests asserts that its call wrote nothing (``assert_rejected`` compares the
  contents of every gmaps_* table before and after), so they cannot disturb each other, and a
  database per bad input would cost ten times the whole call.

``call_sql`` calls a function the way the Python client does (one ``SELECT fn(p_a := literal, ...)``
through a ``ClientCursor``, JSON fractions as Decimal) but returns the raw envelope, failures
included, so tests can check it exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb, set_json_loads

from leadledger.db import Database
from leadledger.db.pool import json_loads
from tests.conftest import make_settings
from tests.helpers import (  # noqa: F401 - re-exported for the test modules
    Conn,
    Envelope,
    call_sql,
    fetch_sql,
    ok,
    one,
    rows,
    tables_state,
    value,
)

#: Every table of the campaign domain: a failed call must change none of them.
GMAPS_TABLES: tuple[str, ...] = (
    "gmaps_campaigns",
    "gmaps_campaign_coverage",
    "gmaps_businesses",
    "gmaps_facebook_enrichments",
    "gmaps_linkedin_enrichments",
    "gmaps_email_verifications",
    "gmaps_api_costs",
    "gmaps_campaign_status_history",
    "gmaps_enrichment_leases",
)

STATUSES: tuple[str, ...] = ("draft", "running", "paused", "completed", "failed", "cancelled")

#: The campaign state machine as documented in the migration (is_valid_status_transition).
VALID_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("draft", "running"),
        ("draft", "cancelled"),
        ("running", "paused"),
        ("running", "completed"),
        ("running", "failed"),
        ("running", "cancelled"),
        ("paused", "running"),
        ("paused", "failed"),
        ("paused", "cancelled"),
    }
)

#: A valid path from draft to each status (for putting a campaign into that state).
PATH_TO: dict[str, tuple[str, ...]] = {
    "draft": (),
    "running": ("running",),
    "paused": ("running", "paused"),
    "completed": ("running", "completed"),
    "failed": ("running", "failed"),
    "cancelled": ("cancelled",),
}

ZIPS: tuple[str, ...] = ("78701", "78702", "78703")


# ---------------------------------------------------------------------------------------------
# Calling and inspecting
# ---------------------------------------------------------------------------------------------


def prepare(conn: Conn) -> Conn:
    """Load JSON fractions as Decimal on this connection, as the client's pool does."""
    set_json_loads(json_loads, conn)
    return conn


def table_counts(conn: Conn) -> dict[str, int]:
    query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM public.{t}" for t in GMAPS_TABLES)
    return {str(name): int(n) for name, n in conn.execute(query).fetchall()}


def table_state(conn: Conn) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table of the domain."""
    return tables_state(conn, GMAPS_TABLES)


def assert_rejected(
    conn: Conn, function: str, field: str | None, fragment: str = "", *, code: str = "22023", **params: Any
) -> Envelope:
    """Call with bad input: the failure envelope names ``field`` (for 22023), says ``fragment``,
    and nothing in any gmaps_* table changed."""
    before = table_state(conn)
    result = call_sql(conn, function, **params)
    assert result["success"] is False, result
    assert result["error_code"] == code, result
    assert result["retry_recommended"] is False, result
    assert set(result) == {"success", "error", "error_code", "error_detail", "retry_recommended"}
    if field is not None:
        assert result["error"].startswith(f"{field}: "), result
    assert fragment in result["error"], result
    assert table_state(conn) == before, f"{function} failed but wrote something"
    return result


# ---------------------------------------------------------------------------------------------
# Building data
# ---------------------------------------------------------------------------------------------


def apify_item(place_id: str | None, n: int = 0, **overrides: Any) -> dict[str, Any]:
    """One item of an Apify Google Maps Scraper dataset, as the actor writes it."""
    item: dict[str, Any] = {
        "title": f"Bright Smile Dental {n}",
        "subTitle": None,
        "price": None,
        "categoryName": "Dentist",
        "address": f"{100 + n} Congress Ave, Austin, TX 78701",
        "neighborhood": "Downtown",
        "street": f"{100 + n} Congress Ave",
        "city": "Austin",
        "postalCode": "78701",
        "state": "Texas",
        "countryCode": "US",
        "website": f"https://brightsmile{n}.example.com/",
        "phone": f"(512) 555-{1000 + n:04d}",
        "phoneUnformatted": f"+1512555{1000 + n:04d}",
        "claimThisBusiness": False,
        "location": {"lat": 30.2672 + n / 10000, "lng": -97.7431},
        "totalScore": 4.7,
        "permanentlyClosed": False,
        "temporarilyClosed": False,
        "placeId": place_id,
        "categories": ["Dentist", "Cosmetic dentist"],
        "fid": f"0x8644b5a0:0x{n:x}",
        "cid": str(1234567890 + n),
        "reviewsCount": 120 + n,
        "imagesCount": 31,
        "scrapedAt": "2026-11-20T14:03:12.000Z",
        "openingHours": [{"day": "Monday", "hours": "8 AM to 5 PM"}],
        "url": f"https://www.google.com/maps/place/?q=place_id:{place_id}",
        "searchString": "dentist",
        "rank": n + 1,
        "emails": [f"Info{n}@BrightSmile.example.com"],
        "phones": [f"(512) 555-{1000 + n:04d}"],
        "facebooks": [f"https://www.facebook.com/brightsmile{n}"],
        "linkedIns": [],
        "twitters": [],
        "instagrams": [],
    }
    if place_id is None:
        del item["placeId"]
    item.update(overrides)
    return item


def new_campaign(conn: Conn, name: str = "Austin dentists", zips: Sequence[str] = ZIPS, **data: Any) -> str:
    result = ok(
        conn,
        "create_campaign_with_coverage",
        p_campaign_data={"name": name, "keywords": ["dentist"], **data},
        p_zip_codes=list(zips),
    )
    return str(result["campaign_id"])


def add_businesses(
    conn: Conn, campaign_id: str, items: list[dict[str, Any]], zip_code: str | None = "78701"
) -> Envelope:
    return ok(
        conn, "insert_businesses_batch", p_campaign_id=campaign_id, p_zip_code=zip_code, p_businesses=items
    )


def business_id(conn: Conn, campaign_id: str, place_id: str) -> str:
    return str(
        value(
            conn,
            "SELECT id FROM gmaps_businesses WHERE campaign_id = %s AND place_id = %s",
            campaign_id,
            place_id,
        )
    )


def business(conn: Conn, business_id: str) -> dict[str, Any]:
    return one(conn, "SELECT * FROM gmaps_businesses WHERE id = %s", business_id)


def drive_to(conn: Conn, campaign_id: str, status: str) -> None:
    for step in PATH_TO[status]:
        ok(conn, "transition_campaign_status", p_campaign_id=campaign_id, p_new_status=step)


def jsonb_equal(conn: Conn, stored: str, expected: Any) -> bool:
    """Compare a stored jsonb expression with a Python value inside PostgreSQL (exact numbers)."""
    return bool(value(conn, f"SELECT ({stored}) = %s", Jsonb(expected)))


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pg(conn: Conn) -> Conn:
    """The fresh per-test database (tests/conftest.py ``conn``), JSON fractions as Decimal."""
    return prepare(conn)


@pytest.fixture
def campaign(pg: Conn) -> str:
    """A draft campaign with the three ZIPs of ZIPS, in the fresh per-test database."""
    return new_campaign(pg)


@pytest.fixture
def big_database(db_url: str) -> Iterator[Database]:
    """A client pool large enough for the concurrency tests (32 connections)."""
    db = Database(db_url, make_settings(db_url, pool_max_size=32, pool_timeout=30.0))
    db.open()
    yield db
    db.close()


@pytest.fixture(scope="module")
def shared(shared_db_url: str) -> Iterator[Conn]:
    """One database for the whole module, for calls that must write nothing."""
    with psycopg.connect(shared_db_url, autocommit=True) as c:
        yield prepare(c)


@pytest.fixture
def shared_campaign(shared: Conn) -> str:
    """A new campaign of its own in the module's shared database, for parametrised cases whose
    assertions stay inside that campaign (cheaper than a database per case)."""
    return new_campaign(shared, f"case {uuid.uuid4().hex[:8]}")


@dataclass(frozen=True)
class Seed:
    """What the shared database holds: two campaigns, businesses, one enrichment of each kind."""

    campaign_id: str
    other_campaign_id: str
    business_id: str  # email from google_maps, a facebook and a linkedin enrichment
    plain_business_id: str  # no email, nothing enriched
    other_business_id: str  # belongs to other_campaign_id


@pytest.fixture(scope="module")
def shared_seed(shared: Conn) -> Seed:
    campaign_id = new_campaign(shared, "Seeded")
    other = new_campaign(shared, "Other", zips=["90210"])
    add_businesses(shared, campaign_id, [apify_item("seed-a", 1), apify_item("seed-b", 2, emails=[])])
    add_businesses(shared, other, [apify_item("seed-c", 3)], zip_code="90210")
    seeded = business_id(shared, campaign_id, "seed-a")
    ok(
        shared,
        "save_facebook_enrichment",
        p_business_id=seeded,
        p_campaign_id=campaign_id,
        p_enrichment={"facebook_url": "https://facebook.com/seed", "primary_email": "fb@seed.example.com"},
    )
    ok(
        shared,
        "save_linkedin_enrichment",
        p_business_id=seeded,
        p_campaign_id=campaign_id,
        p_enrichment={
            "linkedin_url": "https://linkedin.com/company/seed",
            "primary_email": "li@seed.example.com",
        },
    )
    ok(
        shared,
        "track_campaign_cost",
        p_campaign_id=campaign_id,
        p_service="google_maps",
        p_items_processed=2,
        p_cost_usd=1,
    )
    return Seed(
        campaign_id=campaign_id,
        other_campaign_id=other,
        business_id=seeded,
        plain_business_id=business_id(shared, campaign_id, "seed-b"),
        other_business_id=business_id(shared, other, "seed-c"),
    )


#: Marker for parametrised cases that reference the seed: resolved inside the test.
SEED_CAMPAIGN = "<seed campaign>"
SEED_OTHER_CAMPAIGN = "<seed other campaign>"
SEED_BUSINESS = "<seed business>"
SEED_PLAIN_BUSINESS = "<seed plain business>"
SEED_OTHER_BUSINESS = "<seed other business>"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def resolve(seed: Seed, params: dict[str, Any]) -> dict[str, Any]:
    """Replace the SEED_* placeholders of a parametrised case with the seeded ids."""
    mapping = {
        SEED_CAMPAIGN: seed.campaign_id,
        SEED_OTHER_CAMPAIGN: seed.other_campaign_id,
        SEED_BUSINESS: seed.business_id,
        SEED_PLAIN_BUSINESS: seed.plain_business_id,
        SEED_OTHER_BUSINESS: seed.other_business_id,
    }
    return {k: mapping.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
