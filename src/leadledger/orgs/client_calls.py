"""The organizations domain's operations, written once for both clients: :class:`Calls` turns a
method's arguments into a :class:`~leadledger.db.calls.Call`; the clients
(:mod:`leadledger.orgs.client`) only execute it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from leadledger.db.calls import Call
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


def _a(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


class Calls:
    """One method per operation: arguments in, :class:`Call` out. No I/O."""

    @staticmethod
    def create_user(
        email: str,
        name: str | None = None,
        organization_id: UUID | None = None,
        role: Role | str = Role.MEMBER,
    ) -> Call[UserCreated]:
        return Call(
            "create_app_user",
            {"p_email": email, "p_name": name, "p_organization_id": organization_id, "p_role": str(role)},
            _a(UserCreated),
        )

    @staticmethod
    def create_api_key(
        user_id: UUID,
        key_hash: str,
        name: str = "default",
        organization_id: UUID | None = None,
        acting_user_id: UUID | None = None,
    ) -> Call[ApiKeyCreated]:
        return Call(
            "create_api_key",
            {
                "p_user_id": user_id,
                "p_key_hash": key_hash,
                "p_name": name,
                "p_organization_id": organization_id,
                "p_acting_user_id": acting_user_id,
            },
            _a(ApiKeyCreated),
        )

    @staticmethod
    def authenticate_api_key(key_hash: str) -> Call[list[Authenticated]]:
        return Call("authenticate_api_key", {"p_key_hash": key_hash}, _a(list[Authenticated]), rows=True)

    @staticmethod
    def list_api_keys(organization_id: UUID, acting_user_id: UUID | None = None) -> Call[list[ApiKeyInfo]]:
        return Call(
            "list_api_keys",
            {"p_organization_id": organization_id, "p_acting_user_id": acting_user_id},
            _a(list[ApiKeyInfo]),
            rows=True,
        )

    @staticmethod
    def revoke_api_key(
        api_key_id: UUID, organization_id: UUID | None = None, acting_user_id: UUID | None = None
    ) -> Call[ApiKeyRevoked]:
        return Call(
            "revoke_api_key",
            {
                "p_api_key_id": api_key_id,
                "p_organization_id": organization_id,
                "p_acting_user_id": acting_user_id,
            },
            _a(ApiKeyRevoked),
        )

    @staticmethod
    def rotate_api_key(
        api_key_id: UUID,
        new_key_hash: str,
        organization_id: UUID | None = None,
        acting_user_id: UUID | None = None,
    ) -> Call[ApiKeyRotated]:
        return Call(
            "rotate_api_key",
            {
                "p_api_key_id": api_key_id,
                "p_new_key_hash": new_key_hash,
                "p_organization_id": organization_id,
                "p_acting_user_id": acting_user_id,
            },
            _a(ApiKeyRotated),
        )

    @staticmethod
    def create_organization(name: str, owner_user_id: UUID | None = None) -> Call[OrganizationCreated]:
        return Call(
            "create_organization", {"p_name": name, "p_owner_user_id": owner_user_id}, _a(OrganizationCreated)
        )

    @staticmethod
    def list_organizations(user_id: UUID | None = None) -> Call[list[OrganizationSummary]]:
        return Call("list_organizations", {"p_user_id": user_id}, _a(list[OrganizationSummary]), rows=True)

    @staticmethod
    def list_members(organization_id: UUID) -> Call[list[Member]]:
        return Call(
            "list_organization_members", {"p_organization_id": organization_id}, _a(list[Member]), rows=True
        )

    @staticmethod
    def set_member(
        organization_id: UUID,
        user_id: UUID,
        role: Role | str = Role.MEMBER,
        acting_user_id: UUID | None = None,
    ) -> Call[MemberSet]:
        return Call(
            "set_organization_member",
            {
                "p_organization_id": organization_id,
                "p_user_id": user_id,
                "p_role": str(role),
                "p_acting_user_id": acting_user_id,
            },
            _a(MemberSet),
        )

    @staticmethod
    def remove_member(
        organization_id: UUID, user_id: UUID, acting_user_id: UUID | None = None
    ) -> Call[MemberRemoved]:
        return Call(
            "remove_organization_member",
            {"p_organization_id": organization_id, "p_user_id": user_id, "p_acting_user_id": acting_user_id},
            _a(MemberRemoved),
        )
