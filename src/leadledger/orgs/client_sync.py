# WARNING: this file is generated from src/leadledger/orgs/client_async.py by tools/async_to_sync.py.
# DO NOT CHANGE! Change the original file instead.
"""The organizations domain's client: organizations and their members, users and API keys. Each
method is one stored-function call, built by :class:`~leadledger.orgs.client_calls.Calls`. The
HTTP API passes the caller as ``acting_user_id`` so the functions check his role; the CLI acts
as the service (the operator) and passes none.
"""

from __future__ import annotations

from uuid import UUID

from leadledger.db.calls import SyncCaller
from leadledger.orgs.client_calls import Calls
from leadledger.orgs.models import (
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyRevoked,
    ApiKeyRotated,
    Authenticated,
    Member,
    MemberRemoved,
    MemberSet,
    OrganizationCreated,
    OrganizationSummary,
    Role,
    UserCreated,
)


class OrgsClient(SyncCaller):
    """The organizations domain over the given :class:`~leadledger.db.Database`."""

    def create_user(
        self,
        email: str,
        name: str | None = None,
        organization_id: UUID | None = None,
        role: Role | str = Role.MEMBER,
    ) -> UserCreated:
        """A new user; without an organization, with one of his own as its owner."""
        return self._run(Calls.create_user(email, name, organization_id, role))

    def create_api_key(
        self,
        user_id: UUID,
        key_hash: str,
        name: str = "default",
        organization_id: UUID | None = None,
        acting_user_id: UUID | None = None,
    ) -> ApiKeyCreated:
        return self._run(Calls.create_api_key(user_id, key_hash, name, organization_id, acting_user_id))

    def authenticate_api_key(self, key_hash: str) -> Authenticated | None:
        """Who the live API key with this hash acts as, or None."""
        rows = self._run(Calls.authenticate_api_key(key_hash))
        return rows[0] if rows else None

    def list_api_keys(self, organization_id: UUID, acting_user_id: UUID | None = None) -> list[ApiKeyInfo]:
        return self._run(Calls.list_api_keys(organization_id, acting_user_id))

    def revoke_api_key(
        self, api_key_id: UUID, organization_id: UUID | None = None, acting_user_id: UUID | None = None
    ) -> ApiKeyRevoked:
        return self._run(Calls.revoke_api_key(api_key_id, organization_id, acting_user_id))

    def rotate_api_key(
        self,
        api_key_id: UUID,
        new_key_hash: str,
        organization_id: UUID | None = None,
        acting_user_id: UUID | None = None,
    ) -> ApiKeyRotated:
        return self._run(Calls.rotate_api_key(api_key_id, new_key_hash, organization_id, acting_user_id))

    def create_organization(self, name: str, owner_user_id: UUID | None = None) -> OrganizationCreated:
        return self._run(Calls.create_organization(name, owner_user_id))

    def list_organizations(self, user_id: UUID | None = None) -> list[OrganizationSummary]:
        return self._run(Calls.list_organizations(user_id))

    def list_members(self, organization_id: UUID) -> list[Member]:
        return self._run(Calls.list_members(organization_id))

    def set_member(
        self,
        organization_id: UUID,
        user_id: UUID,
        role: Role | str = Role.MEMBER,
        acting_user_id: UUID | None = None,
    ) -> MemberSet:
        return self._run(Calls.set_member(organization_id, user_id, role, acting_user_id))

    def remove_member(
        self, organization_id: UUID, user_id: UUID, acting_user_id: UUID | None = None
    ) -> MemberRemoved:
        return self._run(Calls.remove_member(organization_id, user_id, acting_user_id))
