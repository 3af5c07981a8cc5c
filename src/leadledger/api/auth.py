"""Who is calling: an API key (``X-API-Key``, or ``Authorization: Bearer <key>``) or a
Supabase-compatible JWT (``Authorization: Bearer <jwt>``, HS256 with ``LEADLEDGER_JWT_SECRET``,
``sub`` the user id). The user id always comes from here, never from a request body."""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Annotated
from uuid import UUID

import jwt
from fastapi import Depends, Header, HTTPException, status

from leadledger.api.deps import LeadsClientDep, SettingsDep

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


async def current_user(
    leads: LeadsClientDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> UUID:
    token = x_api_key
    if token is None and authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise _unauthorized("expected 'Authorization: Bearer <token>'")
        token = credentials.strip()
    if not token:
        raise _unauthorized("authentication required: an API key or a bearer JWT")
    if token.count(".") == 2 and not token.startswith(API_KEY_PREFIX):
        return _user_from_jwt(
            token,
            settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
            settings.jwt_audience,
        )
    user_id = await leads.authenticate_api_key(hash_api_key(token))
    if user_id is None:
        raise _unauthorized("unknown or revoked API key")
    return user_id


def _user_from_jwt(token: str, secret: str | None, audience: str | None) -> UUID:
    if not secret:
        raise _unauthorized("JWT authentication is not configured (LEADLEDGER_JWT_SECRET)")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience or None,
            options={"require": ["sub", "exp"], "verify_aud": bool(audience)},
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    try:
        return UUID(str(claims["sub"]))
    except ValueError:
        raise _unauthorized("invalid token: sub is not a user id") from None


CurrentUser = Annotated[UUID, Depends(current_user)]
