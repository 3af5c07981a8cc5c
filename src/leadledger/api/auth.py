"""Who is calling, and for which organization: an API key (``X-API-Key``, or ``Authorization:
Bearer <key>``), which acts for its user within its one organization, or a Supabase-compatible JWT
(``Authorization: Bearer <jwt>``, HS256 with ``LEADLEDGER_JWT_SECRET``, ``sub`` the user id), which
names its organization in the ``organization_id`` claim (or ``app_metadata.organization_id``, as
a Supabase custom access token hook sets it) and whose user must be a member of it. The user and
the organization always come from here, never from a request body (docs/decisions.md D48)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

import jwt
from fastapi import Depends, Header, HTTPException, status

from leadledger.api.deps import OrgsClientDep, SettingsDep
from leadledger.orgs.models import Role

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "llk_"


def new_api_key() -> tuple[str, str]:
    """A new API key and the SHA-256 hex digest that is stored instead of it."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=reason,
        headers={"WWW-Authenticate": 'Bearer realm="leadledger"'},
    )


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: a user acting within one organization, with his role there."""

    user_id: UUID
    organization_id: UUID
    role: Role
    via: Literal["api_key", "jwt"]
    api_key_id: UUID | None = None

    def require(self, role: Role) -> None:
        """403 unless the caller holds at least ``role`` in his organization."""
        if not self.role.at_least(role):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"only {'an owner' if role is Role.OWNER else 'an admin or owner'} may do this",
            )


async def current_caller(
    orgs: OrgsClientDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    token = x_api_key
    if token is None and authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise _unauthorized("expected 'Authorization: Bearer <token>'")
        token = credentials.strip()
    if not token:
        raise _unauthorized("authentication required: an API key or a bearer JWT")
    if token.count(".") == 2 and not token.startswith(API_KEY_PREFIX):
        user_id, organization_id = _claims_of(
            token,
            settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
            settings.jwt_audience,
        )
        memberships = await orgs.list_organizations(user_id)
        role = next((m.role for m in memberships if m.organization_id == organization_id), None)
        if role is None:
            raise _unauthorized("the token's user is not a member of the token's organization")
        return Caller(user_id, organization_id, role, "jwt")
    found = await orgs.authenticate_api_key(hash_api_key(token))
    if found is None:
        raise _unauthorized("unknown or revoked API key")
    return Caller(found.user_id, found.organization_id, found.role, "api_key", found.api_key_id)


def _claims_of(token: str, secret: str | None, audience: str | None) -> tuple[UUID, UUID]:
    """(user, organization) of a valid token; 401 for anything else."""
    if not secret:
        raise _unauthorized("JWT authentication is not configured (LEADLEDGER_JWT_SECRET)")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience or None,
            options={"require": ["sub", "exp"], "verify_aud": bool(audience)},
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    try:
        user_id = UUID(str(claims["sub"]))
    except ValueError:
        raise _unauthorized("invalid token: sub is not a user id") from None
    metadata = claims.get("app_metadata")
    organization = claims.get("organization_id") or (
        metadata.get("organization_id") if isinstance(metadata, dict) else None
    )
    if organization is None:
        raise _unauthorized("invalid token: no organization_id claim (nor app_metadata.organization_id)")
    try:
        return user_id, UUID(str(organization))
    except ValueError:
        raise _unauthorized("invalid token: organization_id is not an organization id") from None


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def current_user(caller: CurrentCaller) -> UUID:
    """The caller's user id (routes that need the organization take :data:`CurrentCaller`)."""
    return caller.user_id


async def admin_caller(caller: CurrentCaller) -> Caller:
    """The caller, when he is an admin or owner of his organization (403 otherwise)."""
    caller.require(Role.ADMIN)
    return caller


CurrentUser = Annotated[UUID, Depends(current_user)]
AdminCaller = Annotated[Caller, Depends(admin_caller)]
