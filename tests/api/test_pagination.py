"""One pagination scheme for every list route (leadledger.api.pagination): ``?limit&cursor`` ->
``{items, next_cursor}``. Walking a list page by page returns every row once, in order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from leadledger.api import create_app
from leadledger.api.pagination import (
    InvalidCursorError,
    KeysetPosition,
    OffsetPosition,
    PageQuery,
    decode_cursor,
    encode_cursor,
    offset_page,
)
from leadledger.campaigns.importer import sample_dataset
from leadledger.db import Database
from tests.conftest import make_settings
from tests.tenants import new_member


@pytest.fixture
def api(db_url: str, database: Database) -> Iterator[tuple[TestClient, UUID]]:
    user = new_member(database, f"pages-{uuid4().hex[:6]}@example.com", "Pages")
    key = user.key
    with TestClient(create_app(make_settings(db_url), database_url=db_url)) as client:
        client.headers["X-API-Key"] = key
        yield client, user.user_id


def walk(client: TestClient, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of ``path``, following next_cursor until it is null."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        response = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the walk does not end"


def ids(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[str]:
    return [str(row[0]) for row in conn.execute(query, params)]


def test_walking_campaigns_returns_every_row_once_in_order(
    api: tuple[TestClient, UUID], conn: psycopg.Connection[Any]
) -> None:
    client, _ = api
    for i in range(7):
        body = {"name": f"Campaign {i}", "zip_codes": [{"zip_code": f"7870{i}"}]}
        assert client.post("/api/campaigns", json=body).status_code == 201
    # four of them created at the same instant: the id orders them, and no page boundary loses one
    conn.execute(
        "UPDATE gmaps_campaigns SET created_at = '2026-01-01T00:00:00Z'"
        " WHERE id IN (SELECT id FROM gmaps_campaigns ORDER BY id LIMIT 4)"
    )
    expected = ids(conn, "SELECT id FROM gmaps_campaigns ORDER BY created_at DESC, id DESC")
    for limit in (1, 2, 3, 7, 50):
        pages = walk(client, "/api/campaigns", limit=limit)
        assert [c["id"] for page in pages for c in page] == expected, limit
        assert [len(page) for page in pages] == [len(expected[i : i + limit]) for i in range(0, 7, limit)]
    running = expected[1::2]
    for campaign_id in running:
        assert client.post(f"/api/campaigns/{campaign_id}/transitions", json={"status": "running"}).is_success
    pages = walk(client, "/api/campaigns", limit=2, status="running")
    assert [c["id"] for page in pages for c in page] == running
    assert [c["status"] for page in pages for c in page] == ["running"] * 3


def test_walking_leads_returns_every_row_once_in_order(
    api: tuple[TestClient, UUID], conn: psycopg.Connection[Any]
) -> None:
    client, user_id = api
    for i in range(6):
        body = {"customer_phone": f"+1512555010{i}", "customer_name": f"Lead {i}", "type": "quote"}
        assert client.post("/api/leads", json=body).status_code == 201
    conn.execute(
        "UPDATE leads SET created_at = '2026-01-01T00:00:00Z'"
        " WHERE id IN (SELECT id FROM leads ORDER BY id LIMIT 3)"
    )
    expected = ids(conn, "SELECT id FROM leads WHERE user_id = %s ORDER BY created_at DESC, id DESC", user_id)
    assert len(expected) == 6
    for limit in (1, 4, 6, 500):
        pages = walk(client, "/api/leads", limit=limit)
        assert [lead["lead_id"] for page in pages for lead in page] == expected, limit


def test_walking_pending_enrichment_pages_by_offset(
    api: tuple[TestClient, UUID], conn: psycopg.Connection[Any]
) -> None:
    client, _ = api
    created = client.post("/api/campaigns", json={"name": "x", "zip_codes": [{"zip_code": "78701"}]})
    campaign_id = created.json()["campaign_id"]
    saved = client.post(
        f"/api/campaigns/{campaign_id}/businesses",
        json={"zip_code": "78701", "businesses": sample_dataset()[:7]},
    )
    assert saved.status_code == 200, saved.text
    expected = ids(
        conn, "SELECT id FROM gmaps_businesses WHERE campaign_id = %s ORDER BY created_at, id", campaign_id
    )
    assert len(expected) == 7
    path = f"/api/campaigns/{campaign_id}/enrichment/facebook"
    for limit in (1, 3, 7, 1000):
        pages = walk(client, path, limit=limit)
        assert [b["business_id"] for page in pages for b in page] == expected, limit
    default = client.get(path).json()
    assert (len(default["items"]), default["next_cursor"]) == (7, None)
    assert client.get(path, params={"limit": 1001}).status_code == 422
    assert client.get("/api/campaigns", params={"limit": 501}).status_code == 422


# -- the helper itself ---------------------------------------------------------------------------


def test_cursors_round_trip_and_refuse_what_they_did_not_encode() -> None:
    position = OffsetPosition(offset=40)
    assert decode_cursor(encode_cursor(position), OffsetPosition) == position
    assert "=" not in encode_cursor(position)
    with pytest.raises(InvalidCursorError):
        decode_cursor(encode_cursor(position), KeysetPosition)
    with pytest.raises(InvalidCursorError):
        decode_cursor(encode_cursor(OffsetPosition(offset=0)).replace("e", "*"), OffsetPosition)


class Rows:
    """A stored function over ``rows`` that takes at most ``cap`` rows per call."""

    def __init__(self, count: int, cap: int) -> None:
        self.rows = list(range(count))
        self.cap = cap
        self.calls: list[tuple[int, int]] = []

    async def fetch(self, limit: int, offset: int) -> Sequence[int]:
        assert 1 <= limit <= self.cap, "the function would refuse this p_limit"
        self.calls.append((limit, offset))
        return self.rows[offset : offset + limit]


@pytest.mark.anyio
@pytest.mark.parametrize("count", [0, 1, 4, 5, 6, 9, 10, 11])
async def test_a_page_as_large_as_the_function_takes_still_knows_whether_more_follow(count: int) -> None:
    """limit equals the function's largest p_limit: no limit + 1 request; next_cursor is null
    exactly when nothing follows (one extra row is asked for after a full page)."""
    rows = Rows(count, cap=5)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = await offset_page(PageQuery(limit=5, cursor=cursor), rows.fetch, max_fetch=5)
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
        assert page.items, "a next_cursor that leads to an empty page"
    assert seen == rows.rows


@pytest.mark.anyio
async def test_a_smaller_page_asks_for_one_row_more() -> None:
    rows = Rows(10, cap=5)
    page = await offset_page(PageQuery(limit=3, cursor=None), rows.fetch, max_fetch=5)
    assert (page.items, rows.calls) == ([0, 1, 2], [(4, 0)])
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor, OffsetPosition).offset == 3
