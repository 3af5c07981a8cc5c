"""Pydantic models of organizations, members, users and API keys: what the stored functions of
``orgs/sql`` take and return, and the HTTP bodies of ``/api/orgs``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints

from leadledger.api.pagination import Page


class Role(StrEnum):
    """Members read and write their organization's data; admins also manage members and keys;
    owners also manage admins and owners (the CHECK of organization_members.role)."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def rank(self) -> int:
        return {"owner": 3, "admin": 2, "member": 1}[self.value]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


OrganizationName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Result(BaseModel):
    """Envelopes carry more than a model names; extra fields are kept, not refused."""

    model_config = ConfigDict(extra="allow")


# -- results ----------------------------------------------------------------------------------


class UserCreated(_Result):
    user_id: UUID
    email: str
    organization_id: UUID
    role: Role


class ApiKeyCreated(_Result):
    api_key_id: UUID
    user_id: UUID
    organization_id: UUID


class Authenticated(_Result):
    """Who a live API key acts as."""

    user_id: UUID
    organization_id: UUID
    role: Role
    api_key_id: UUID


class OrganizationCreated(_Result):
    organization_id: UUID
    name: str
    owner_user_id: UUID | None


class OrganizationSummary(_Result):
    organization_id: UUID
    name: str
    role: Role | None
    is_default: bool
    members: int
    created_at: datetime


class Member(_Result):
    user_id: UUID
    email: str | None
    name: str | None
    role: Role
    created_at: datetime


class MemberSet(_Result):
    organization_id: UUID
    user_id: UUID
    role: Role
    previous_role: Role | None


class MemberRemoved(_Result):
    organization_id: UUID
    user_id: UUID
    role: Role
    keys_revoked: int


class ApiKeyInfo(_Result):
    """An API key as its organization's admins see it: never its hash."""

    api_key_id: UUID
    user_id: UUID
    email: str | None
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyRevoked(_Result):
    api_key_id: UUID
    organization_id: UUID
    revoked_at: datetime
    already_revoked: bool


class ApiKeyRotated(_Result):
    api_key_id: UUID
    replaced_api_key_id: UUID
    user_id: UUID
    organization_id: UUID
    name: str


# -- HTTP bodies --------------------------------------------------------------------------------


class MemberRoleBody(BaseModel):
    """PUT /api/orgs/current/members/{user_id}: the role the user is to have (the user id is the
    path's)."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Role.MEMBER


class NewApiKeyBody(BaseModel):
    """POST /api/keys: a key for ``user_id`` (a member of the caller's organization; the caller
    himself when left out)."""

    model_config = ConfigDict(extra="forbid")

    user_id: UUID | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = "default"


class NewApiKey(BaseModel):
    """A new API key: the only time the key itself is shown."""

    api_key_id: UUID
    api_key: str
    user_id: UUID
    organization_id: UUID
    name: str
    replaced_api_key_id: UUID | None = None


OrganizationPage = Page[OrganizationSummary]
MemberPage = Page[Member]
ApiKeyPage = Page[ApiKeyInfo]
