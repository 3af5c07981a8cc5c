"""One pagination scheme for every list route: ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

``next_cursor`` is opaque to callers: base64url (unpadded) of a small JSON object naming where the
next page starts, either the last row's ``(created_at, id)`` for the keyset lists (leads,
campaigns) or a row offset for the lists whose stored function pages by offset (businesses
pending enrichment). Pass it back unchanged as ``?cursor=``; it is null on the last page. A cursor
that does not decode (or belongs to the other scheme) is 422 naming ``query.cursor``.

Each page asks the stored function for one row more than ``limit`` to know whether another page
follows. When ``limit`` is already the largest page the function returns, it asks for ``limit``
rows and, if it got that many, for one row after them: ``next_cursor`` is null exactly when nothing
follows.

This module imports nothing of the domains (their ``models.py`` import :class:`Page` from it).
"""

# No `from __future__ import annotations`: page_query's dependency reads its bounds from a closure
# and FastAPI evaluates the annotations of the functions it calls.

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt
from pydantic import ValidationError as PydanticValidationError

from leadledger.db.errors import LeadledgerError

T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list route."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")


class InvalidCursorError(LeadledgerError):
    """A ``cursor`` this API did not hand out (422 naming ``query.cursor``)."""

    field = "query.cursor"

    def __init__(self, reason: str = "invalid cursor: pass a next_cursor of this list unchanged") -> None:
        super().__init__(f"{self.field}: {reason}", error_code="22023")
        self.reason = reason


@dataclass(frozen=True)
class PageQuery:
    """The page a request asks for: ``?limit=`` rows after ``?cursor=`` (the first page without)."""

    limit: int
    cursor: str | None


def page_query(default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> Callable[..., PageQuery]:
    """A dependency reading ``limit`` (1 to ``maximum``) and ``cursor`` from the query string."""

    def dependency(
        limit: Annotated[int, Query(ge=1, le=maximum, description="Rows per page.")] = default,
        cursor: Annotated[
            str | None, Query(max_length=500, description="next_cursor of the previous page.")
        ] = None,
    ) -> PageQuery:
        return PageQuery(limit=limit, cursor=cursor)

    return dependency


#: ``limit`` (1 to 500, default 50) and ``cursor``: the page parameters of most list routes.
PageParams = Annotated[PageQuery, Depends(page_query())]


# -- cursors ---------------------------------------------------------------------------------


class _Position(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeysetPosition(_Position):
    """After the row ``(created_at, id)`` in ``ORDER BY created_at DESC, id DESC``."""

    created_at: datetime
    id: UUID


class OffsetPosition(_Position):
    """After the first ``offset`` rows."""

    offset: NonNegativeInt


def encode_cursor(position: BaseModel) -> str:
    return base64.urlsafe_b64encode(position.model_dump_json().encode()).decode().rstrip("=")


def decode_cursor(cursor: str, position: type[P]) -> P:
    """The position ``cursor`` names; :class:`InvalidCursorError` when it names none of ``position``'s."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return position.model_validate(json.loads(text))
    except (ValueError, binascii.Error, PydanticValidationError):
        # ValueError covers UnicodeDecodeError and json.JSONDecodeError
        raise InvalidCursorError() from None


# -- pages -----------------------------------------------------------------------------------


async def paginate(
    page: PageQuery,
    position: type[P],
    fetch: Callable[[int, P | None], Awaitable[Sequence[T]]],
    after: Callable[[Sequence[T], P | None], P],
    max_fetch: int | None = None,
) -> Page[T]:
    """One page: ``fetch(n, start)`` returns up to ``n`` rows from ``start`` (None: the first row),
    ``after(rows, start)`` the position after ``rows``; ``max_fetch`` is the largest ``n`` the
    stored function takes (None: no limit)."""
    start = decode_cursor(page.cursor, position) if page.cursor else None
    at_cap = max_fetch is not None and page.limit >= max_fetch
    rows = list(await fetch(page.limit if at_cap else page.limit + 1, start))
    items = rows[: page.limit]
    more = len(rows) > page.limit
    if at_cap and items and len(items) == page.limit:
        more = bool(await fetch(1, after(items, start)))
    return Page(items=items, next_cursor=encode_cursor(after(items, start)) if more else None)


async def keyset_page(
    page: PageQuery,
    fetch: Callable[[int, tuple[datetime, UUID] | None], Awaitable[Sequence[T]]],
    key: Callable[[T], tuple[datetime, UUID]],
    max_fetch: int | None = None,
) -> Page[T]:
    """A page of a list in ``ORDER BY created_at DESC, id DESC`` order; ``fetch(n, before)`` reads
    ``n`` rows before ``(created_at, id)`` and ``key`` gives a row's pair."""

    def last(rows: Sequence[T], _: KeysetPosition | None) -> KeysetPosition:
        created_at, row_id = key(rows[-1])
        return KeysetPosition(created_at=created_at, id=row_id)

    def read(n: int, start: KeysetPosition | None) -> Awaitable[Sequence[T]]:
        return fetch(n, (start.created_at, start.id) if start else None)

    return await paginate(page, KeysetPosition, read, last, max_fetch)


async def offset_page(
    page: PageQuery,
    fetch: Callable[[int, int], Awaitable[Sequence[T]]],
    max_fetch: int | None = None,
) -> Page[T]:
    """A page of a list its stored function pages by offset; ``fetch(n, offset)`` reads ``n`` rows
    after the first ``offset``."""

    def following(rows: Sequence[T], start: OffsetPosition | None) -> OffsetPosition:
        return OffsetPosition(offset=(start.offset if start else 0) + len(rows))

    def read(n: int, start: OffsetPosition | None) -> Awaitable[Sequence[T]]:
        return fetch(n, start.offset if start else 0)

    return await paginate(page, OffsetPosition, read, following, max_fetch)
