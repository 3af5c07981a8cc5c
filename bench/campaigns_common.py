"""Shared by the campaign-pipeline benchmarks: realistic Apify Google Maps items, their mapping
to ``gmaps_businesses`` rows (what the application would do in Python, and what
``insert_businesses_batch`` does in SQL), bulk loading with COPY, campaign creation, a pool, a
runner for concurrent clients with real threads, and Markdown tables.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

import leadledger
from bench.common import migrated_database
from leadledger.db import Database, Settings
from leadledger.db.migrations import MIGRATION_PACKAGES, MigrationRunner, discover

# ---------------------------------------------------------------------------------------------
# Realistic Apify Google Maps Scraper items
# ---------------------------------------------------------------------------------------------

_CITIES: tuple[tuple[str, str, float, float, int], ...] = (
    ("Austin", "Texas", 30.2672, -97.7431, 78701),
    ("Denver", "Colorado", 39.7392, -104.9903, 80202),
    ("Portland", "Oregon", 45.5152, -122.6784, 97201),
    ("Columbus", "Ohio", 39.9612, -82.9988, 43215),
    ("Raleigh", "North Carolina", 35.7796, -78.6382, 27601),
    ("Tampa", "Florida", 27.9506, -82.4572, 33602),
    ("Madison", "Wisconsin", 43.0731, -89.4012, 53703),
    ("Boise", "Idaho", 43.6150, -116.2023, 83702),
)
_CATEGORIES = (
    "Plumber",
    "Electrician",
    "Roofing contractor",
    "HVAC contractor",
    "Dentist",
    "Landscaper",
    "Auto repair shop",
    "Hair salon",
    "Real estate agency",
    "Bakery",
)
_NAMES = ("Summit", "Lone Star", "Blue Sky", "Evergreen", "Main Street", "Precision", "Family", "Capitol")
_KINDS = ("Services", "Co.", "& Sons", "Pros", "Group", "Experts", "Solutions", "Works")
_STREETS = ("Main St", "Oak Ave", "Congress Ave", "Lamar Blvd", "Elm St", "Broadway", "5th St", "Park Rd")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_VERIFICATION = (("deliverable", 50), ("risky", 15), ("undeliverable", 10), ("unknown", 5), (None, 20))


def place_id() -> str:
    """A unique Google place id of the usual shape (``ChIJ`` + 23 base64url characters)."""
    raw = uuid.uuid4().bytes + bytes([random.getrandbits(8)])
    return "ChIJ" + base64.urlsafe_b64encode(raw).decode()[:23]


@dataclass(frozen=True)
class Mix:
    """Which share of items has an email, a Facebook page and a LinkedIn profile."""

    email: float = 0.6
    facebook: float = 0.3
    linkedin: float = 0.1


def apify_item(rng: random.Random, rank: int, mix: Mix = Mix()) -> dict[str, Any]:
    """One item as the Apify Google Maps Scraper returns it (contacts enrichment on)."""
    city, state, lat, lng, zip_base = rng.choice(_CITIES)
    postal = f"{zip_base + rng.randrange(20):05d}"
    category = rng.choice(_CATEGORIES)
    title = f"{rng.choice(_NAMES)} {category} {rng.choice(_KINDS)}"
    slug = "".join(ch for ch in title.lower() if ch.isalnum())[:24] + str(rng.randrange(1000))
    street = f"{rng.randrange(1, 9999)} {rng.choice(_STREETS)}"
    digits = f"{rng.randrange(200, 999)}555{rng.randrange(10000):04d}"
    pid = place_id()
    return {
        "title": title,
        "subTitle": None,
        "price": None,
        "categoryName": category,
        "categories": [category, "Contractor"],
        "address": f"{street}, {city}, {state} {postal}, United States",
        "neighborhood": "Downtown",
        "street": street,
        "city": city,
        "postalCode": postal,
        "state": state,
        "countryCode": "US",
        "website": f"https://www.{slug}.com/",
        "phone": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        "phoneUnformatted": f"+1{digits}",
        "claimThisBusiness": False,
        "location": {
            "lat": round(lat + rng.uniform(-0.2, 0.2), 7),
            "lng": round(lng + rng.uniform(-0.2, 0.2), 7),
        },
        "totalScore": round(rng.uniform(3.0, 5.0), 1),
        "permanentlyClosed": False,
        "temporarilyClosed": False,
        "placeId": pid,
        "cid": str(rng.getrandbits(63)),
        "reviewsCount": rng.randrange(0, 2500),
        "imagesCount": rng.randrange(0, 400),
        "scrapedAt": "2026-11-23T10:15:42.318Z",
        "openingHours": [{"day": day, "hours": "8 AM to 6 PM"} for day in _DAYS],
        "url": f"https://www.google.com/maps/search/?api=1&query={slug}&query_place_id={pid}",
        "searchString": category.lower(),
        "rank": rank,
        "isAdvertisement": False,
        "emails": [f"info@{slug}.com"] if rng.random() < mix.email else [],
        "facebooks": [f"https://www.facebook.com/{slug}"] if rng.random() < mix.facebook else [],
        "linkedIns": [f"https://www.linkedin.com/company/{slug}"] if rng.random() < mix.linkedin else [],
    }


def apify_items(count: int, seed: int, mix: Mix = Mix()) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [apify_item(rng, rank, mix) for rank in range(1, count + 1)]


# ---------------------------------------------------------------------------------------------
# Mapping to gmaps_businesses, as the application would do it (mirrors insert_businesses_batch)
# ---------------------------------------------------------------------------------------------

BUSINESS_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "place_id",
    "zip_code",
    "name",
    "address",
    "street",
    "city",
    "postal_code",
    "state",
    "country_code",
    "phone",
    "website",
    "category",
    "rating",
    "reviews_count",
    "latitude",
    "longitude",
    "email",
    "email_source",
    "facebook_url",
    "linkedin_url",
    "raw_data",
    "organization_id",
)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def organization_of(conn: psycopg.Connection[Any], campaign_id: uuid.UUID) -> uuid.UUID:
    """The organization a campaign (and so each of its businesses) belongs to."""
    row = conn.execute("SELECT organization_id FROM gmaps_campaigns WHERE id = %s", [campaign_id]).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def business_row(
    campaign_id: uuid.UUID, item: dict[str, Any], zip_code: str | None, organization_id: uuid.UUID
) -> tuple[Any, ...]:
    """The ``BUSINESS_COLUMNS`` values of one Apify item (same normalisation as the function)."""
    postal = _text(item.get("postalCode"))
    email = _text(_first(item.get("emails")))
    location = item.get("location") or {}
    score = item.get("totalScore")
    return (
        campaign_id,
        _text(item.get("placeId")),
        zip_code or (postal if postal and len(postal) == 5 and postal.isdigit() else None),
        _text(item.get("title")),
        _text(item.get("address")),
        _text(item.get("street")),
        _text(item.get("city")),
        postal,
        _text(item.get("state")),
        _text(item.get("countryCode")),
        _text(item.get("phone")),
        _text(item.get("website")),
        _text(item.get("categoryName")),
        None if score is None else round(Decimal(str(score)), 2),
        item.get("reviewsCount"),
        location.get("lat"),
        location.get("lng"),
        email.lower() if email else None,
        "google_maps" if email else None,
        _text(_first(item.get("facebooks"))),
        _text(_first(item.get("linkedIns"))),
        Jsonb(item),
        organization_id,
    )


def copy_statement(columns: Sequence[str]) -> str:
    return f"COPY gmaps_businesses ({', '.join(columns)}) FROM STDIN"


# ---------------------------------------------------------------------------------------------
# Loading many businesses with a realistic mix (statistics and latency benchmarks)
# ---------------------------------------------------------------------------------------------


@dataclass
class Expected:
    """What update_campaign_statistics must report for what was loaded."""

    businesses: int = 0
    emails: int = 0
    facebook: int = 0
    linkedin: int = 0
    deliverable: int = 0


def load_businesses(
    conn: psycopg.Connection[Any], campaign_id: uuid.UUID, count: int, seed: int, zip_code: str | None = None
) -> Expected:
    """COPY ``count`` realistic businesses into one campaign (~60% with an email, ~30% with a
    Facebook page, ~10% with a LinkedIn profile; half the emails verified deliverable)."""
    rng = random.Random(seed)
    statuses = [s for s, _ in _VERIFICATION]
    weights = [w for _, w in _VERIFICATION]
    expected = Expected()
    columns = (*BUSINESS_COLUMNS, "email_verification_status", "email_is_safe")
    organization = organization_of(conn, campaign_id)
    with conn.cursor() as cur, cur.copy(copy_statement(columns)) as copy:
        for rank in range(count):
            row = business_row(campaign_id, apify_item(rng, rank), zip_code, organization)
            status = rng.choices(statuses, weights)[0] if row[17] else None
            copy.write_row((*row, status, None if status is None else status == "deliverable"))
            expected.businesses += 1
            expected.emails += row[17] is not None
            expected.facebook += row[19] is not None
            expected.linkedin += row[20] is not None
            expected.deliverable += status == "deliverable"
    return expected


# ---------------------------------------------------------------------------------------------
# The database, campaigns, pools
# ---------------------------------------------------------------------------------------------

#: The migrations these benchmarks need: the core helpers and the campaign pipeline. The other
#: domains neither reference nor trigger on the gmaps_* tables. Since issue 10 a campaign belongs
#: to an organization, and the organizations migration links users (leads) and the ETL's orgs:
#: every package, then.
CAMPAIGN_PACKAGES = MIGRATION_PACKAGES


#: Proposed (not in the migrations): lets update_campaign_statistics count a campaign with an
#: index-only scan instead of reading the wide heap rows (raw_data is ~1.4 kB inline).


@contextmanager
def campaign_database(url: str) -> Iterator[str]:
    """A fresh database (``bench.common.migrated_database``, dropped afterwards) migrated with
    ``CAMPAIGN_PACKAGES``."""
    with migrated_database(url, migrate=False) as db_url:
        with psycopg.connect(db_url, autocommit=True) as conn:
            MigrationRunner(conn, discover(CAMPAIGN_PACKAGES)).upgrade()
        yield db_url


def zip_codes(count: int, start: int = 10000) -> list[str]:
    return [f"{start + i:05d}" for i in range(count)]


def campaign_data(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": "benchmark campaign",
        "keywords": ["plumber", "electrician"],
        "location": "Austin, TX",
        "coverage_profile": "balanced",
    }


def zip_items(count: int, start: int = 10000) -> list[dict[str, Any]]:
    return [
        {"zip_code": z, "keywords": ["plumber"], "max_results": 200, "estimated_cost": Decimal("0.85")}
        for z in zip_codes(count, start)
    ]


def create_campaign(db: Database, name: str, zips: int = 1) -> uuid.UUID:
    envelope = db.call(
        "create_campaign_with_coverage", p_campaign_data=campaign_data(name), p_zip_codes=zip_items(zips)
    )
    return uuid.UUID(str(envelope["campaign_id"]))


@contextmanager
def pooled(db_url: str, size: int) -> Iterator[Database]:
    """A ``Database`` whose pool holds ``size`` open connections (one per client thread)."""
    with Database(db_url, Settings(database_url=db_url, pool_min_size=size, pool_max_size=size)) as db:
        db.open()
        db.pool.wait()
        yield db


# ---------------------------------------------------------------------------------------------
# Concurrent clients
# ---------------------------------------------------------------------------------------------


@dataclass
class ClientRun:
    """Per-call latencies (seconds) of every client and the wall time of the measured part."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.calls / self.wall if self.wall else 0.0


#: One client's call number ``k``. It may return the seconds to record for the call instead of
#: the time it took as a whole (when it also does untimed follow-up work).
Worker = Callable[[int], float | None]


def run_clients(clients: int, calls: int, make_worker: Callable[[int], Worker], warmup: int = 0) -> ClientRun:
    """Run ``clients`` real threads; client ``i`` gets ``make_worker(i)`` and calls it with
    ``0 .. warmup + calls - 1``. The first ``warmup`` calls are not timed; then all clients
    start together (a barrier) and each call is timed (or records what the call returns, see
    ``Worker``). Raises the first error of any client."""
    barrier = threading.Barrier(clients + 1)
    samples: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            worker = make_worker(index)
            for k in range(warmup):
                worker(k)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
            return
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return
        try:
            mine = samples[index]
            for k in range(warmup, warmup + calls):
                started = time.perf_counter()
                recorded = worker(k)
                mine.append(time.perf_counter() - started if recorded is None else recorded)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    with suppress(threading.BrokenBarrierError):
        barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return ClientRun([s for per_client in samples for s in per_client], wall)


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def sql_fingerprint() -> str:
    """Which campaign SQL was measured (its migrations and current-state files change; a table
    names its version), and how busy the machine was when the benchmark started (other work
    shares its 2 cores)."""
    digest = hashlib.sha256()
    campaigns = Path(leadledger.__file__).parent / "campaigns"
    for path in sorted([*campaigns.glob("migrations/*.sql"), *campaigns.glob("sql/*.sql")]):
        digest.update(path.read_bytes())
    return f"campaign SQL sha256 {digest.hexdigest()[:12]}, load average {os.getloadavg()[0]:.1f} at start"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table: the first column left-aligned, the others right-aligned."""
    print("| " + " | ".join(headers) + " |")
    print("| " + " | ".join(["---"] + ["---:"] * (len(headers) - 1)) + " |")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"
