"""HTTP API of organizations, their members and API keys: ``/api/orgs`` and ``/api/keys``.

Every route acts within the caller's organization (the one his API key or JWT names,
leadledger.api.auth); no route takes an organization id. Any member reads his organization and
its members; admins and owners manage members and keys (:data:`AdminCaller`: 403 for a member),
and only owners grant, change or take away the admin and owner roles, or manage the keys of
admins and owners. The routes pass the caller
as ``acting_user_id``, so the stored functions check his role again, and his organization, so an
id from another organization is 404, as one that does not exist.

Lists answer ``{items, next_cursor}`` with ``?limit=&cursor=`` (leadledger.api.pagination). The
functions return the whole list (an organization's memberships and keys, bounded by people, not
by data); a page is a slice of one call's rows, its cursor an offset.

A new or rotated API key is in the answer of the request that made it, and never again: only its
SHA-256 is stored. A revoked key is refused from the next request on (authentication reads the
key on every request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, status

from leadledger.api.auth import AdminCaller, CurrentCaller, admin_caller, current_caller, new_api_key
from leadledger.api.deps import OrgsClientDep
from leadledger.api.pagination import PageParams, offset_page
from leadledger.db.errors import ReferencedRecordNotFoundError
from leadledger.orgs.models import (
    ApiKeyPage,
    ApiKeyRevoked,
    MemberPage,
    MemberRemoved,
    MemberRoleBody,
    MemberSet,
    NewApiKey,
    NewApiKeyBody,
    OrganizationPage,
    OrganizationSummary,
)

__all__ = ["keys_router", "router"]

T = TypeVar("T")

router = APIRouter(prefix="/api/orgs", tags=["organizations"], dependencies=[Depends(current_caller)])
keys_router = APIRouter(prefix="/api/keys", tags=["api keys"], dependencies=[Depends(admin_caller)])


def _slices(read: Callable[[], Awaitable[Sequence[T]]]) -> Callable[[int, int], Awaitable[Sequence[T]]]:
    """``fetch(n, offset)`` for :func:`offset_page` over a function that returns the whole list."""

    async def fetch(n: int, offset: int) -> Sequence[T]:
        return (await read())[offset : offset + n]

    return fetch


# -- organizations and members ----------------------------------------------------------------


@router.get("", response_model=OrganizationPage)
async def list_organizations(
    orgs: OrgsClientDep, caller: CurrentCaller, page: PageParams
) -> OrganizationPage:
    """The organizations the caller belongs to, with his role in each, oldest first. A key acts
    in one of them; a JWT names the one it acts in."""
    return await offset_page(page, _slices(lambda: orgs.list_organizations(caller.user_id)))


@router.get("/current", response_model=OrganizationSummary)
async def current_organization(orgs: OrgsClientDep, caller: CurrentCaller) -> OrganizationSummary:
    """The organization the caller acts in, and his role there."""
    mine = await orgs.list_organizations(caller.user_id)
    found = next((o for o in mine if o.organization_id == caller.organization_id), None)
    if found is None:  # he left it after authenticating
        raise ReferencedRecordNotFoundError("Organization not found", error_code="23503")
    return found


@router.get("/current/members", response_model=MemberPage)
async def list_members(orgs: OrgsClientDep, caller: CurrentCaller, page: PageParams) -> MemberPage:
    """The members of the caller's organization: owners first, then admins, then members."""
    return await offset_page(page, _slices(lambda: orgs.list_members(caller.organization_id)))


@router.put("/current/members/{user_id}", response_model=MemberSet)
async def set_member(
    user_id: UUID, body: MemberRoleBody, orgs: OrgsClientDep, caller: AdminCaller
) -> MemberSet:
    """Add an existing user to the caller's organization with a role, or change a member's role
    (admins: members; owners: any role). The organization keeps at least one owner (409)."""
    return await orgs.set_member(caller.organization_id, user_id, body.role, acting_user_id=caller.user_id)


@router.delete("/current/members/{user_id}", response_model=MemberRemoved)
async def remove_member(user_id: UUID, orgs: OrgsClientDep, caller: AdminCaller) -> MemberRemoved:
    """Take a user out of the caller's organization and revoke his API keys there (admins:
    members; owners: anyone but the last owner, 409)."""
    return await orgs.remove_member(caller.organization_id, user_id, acting_user_id=caller.user_id)


# -- API keys ---------------------------------------------------------------------------------


@keys_router.get("", response_model=ApiKeyPage)
async def list_api_keys(orgs: OrgsClientDep, caller: AdminCaller, page: PageParams) -> ApiKeyPage:
    """The organization's API keys, revoked ones included, newest first (never the keys)."""
    return await offset_page(
        page, _slices(lambda: orgs.list_api_keys(caller.organization_id, acting_user_id=caller.user_id))
    )


@keys_router.post("", status_code=status.HTTP_201_CREATED, response_model=NewApiKey)
async def create_api_key(body: NewApiKeyBody, orgs: OrgsClientDep, caller: AdminCaller) -> NewApiKey:
    """A new API key acting for ``user_id`` (the caller when left out; a member of his
    organization, else 404) within the caller's organization. A key acts with its user's role,
    so only owners make keys for admins and owners (403). The key is in this answer only."""
    key, digest = new_api_key()
    created = await orgs.create_api_key(
        body.user_id or caller.user_id,
        digest,
        body.name,
        organization_id=caller.organization_id,
        acting_user_id=caller.user_id,
    )
    return NewApiKey(
        api_key_id=created.api_key_id,
        api_key=key,
        user_id=created.user_id,
        organization_id=created.organization_id,
        name=body.name,
    )


@keys_router.post("/{api_key_id}/revoke", response_model=ApiKeyRevoked)
async def revoke_api_key(api_key_id: UUID, orgs: OrgsClientDep, caller: AdminCaller) -> ApiKeyRevoked:
    """Revoke a key of the caller's organization (an admin's or owner's: owners only): refused
    from the next request on. Revoking a revoked key changes nothing (``already_revoked``)."""
    return await orgs.revoke_api_key(
        api_key_id, organization_id=caller.organization_id, acting_user_id=caller.user_id
    )


@keys_router.post("/{api_key_id}/rotate", response_model=NewApiKey)
async def rotate_api_key(api_key_id: UUID, orgs: OrgsClientDep, caller: AdminCaller) -> NewApiKey:
    """Replace a live key by a new one (same user, organization and name) in one transaction:
    the old key is refused from the next request on, the new one is in this answer only (an
    admin's or owner's key: owners only). A revoked key cannot be rotated (409)."""
    key, digest = new_api_key()
    rotated = await orgs.rotate_api_key(
        api_key_id, digest, organization_id=caller.organization_id, acting_user_id=caller.user_id
    )
    return NewApiKey(
        api_key_id=rotated.api_key_id,
        api_key=key,
        user_id=rotated.user_id,
        organization_id=rotated.organization_id,
        name=rotated.name,
        replaced_api_key_id=rotated.replaced_api_key_id,
    )
