"""``leadledger orgs ...``, ``leadledger keys ...`` and ``leadledger users ...``.

The CLI acts as the service, the deployment's operator: it may act in any organization and names
no acting user, so the role rules of the HTTP API (admins manage members and keys, owners manage
admins) do not apply to it; the rule that an organization keeps an owner does. A new API key is
printed once, by the command that made it: only its SHA-256 is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from leadledger.api.auth import new_api_key
from leadledger.cli_common import cli_errors, console, open_database
from leadledger.orgs.client import OrgsClient
from leadledger.orgs.models import Role

orgs_app = typer.Typer(help="Organizations (the tenants) and their members.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: a user acting within one organization.", no_args_is_help=True)
users_app = typer.Typer(help="Users, the members of organizations, and their API keys.", no_args_is_help=True)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def _show_key(api_key_id: UUID, key: str) -> None:
    console.print(f"API key [bold]{api_key_id}[/] (shown once, send it as X-API-Key):")
    print(key)


# -- organizations ----------------------------------------------------------------------------


@orgs_app.command("create")
@cli_errors
def create_organization(
    name: Annotated[str, typer.Option(help="The organization's name.")],
    owner: Annotated[UUID | None, typer.Option(help="User id of its first owner.")] = None,
) -> None:
    """Create an organization, with its owner."""
    with open_database() as db:
        created = OrgsClient(db).create_organization(name, owner)
    owned = f", owner {created.owner_user_id}" if created.owner_user_id else ", no owner yet"
    console.print(f"created organization [bold]{created.organization_id}[/] ({created.name}){owned}")
    print(created.organization_id)


@orgs_app.command("list")
@cli_errors
def list_organizations(
    user: Annotated[UUID | None, typer.Option(help="Only this user's organizations, with his role.")] = None,
) -> None:
    """List organizations (every one, or a user's), oldest first."""
    with open_database() as db:
        found = OrgsClient(db).list_organizations(user)
    table = Table(title=f"organizations of {user}" if user else "organizations")
    for column in ("id", "name", "role", "default", "members", "created"):
        table.add_column(column)
    for org in found:
        table.add_row(
            str(org.organization_id),
            org.name,
            org.role.value if org.role else "",
            "yes" if org.is_default else "",
            str(org.members),
            _when(org.created_at),
        )
    console.print(table)


@orgs_app.command("members")
@cli_errors
def list_members(organization: Annotated[UUID, typer.Argument(help="Organization id.")]) -> None:
    """List an organization's members: owners, then admins, then members."""
    with open_database() as db:
        members = OrgsClient(db).list_members(organization)
    table = Table(title=f"members of {organization}")
    for column in ("user", "email", "name", "role", "since"):
        table.add_column(column)
    for member in members:
        table.add_row(
            str(member.user_id),
            member.email or "",
            member.name or "",
            member.role.value,
            _when(member.created_at),
        )
    console.print(table)


@orgs_app.command("add-member")
@cli_errors
def add_member(
    organization: Annotated[UUID, typer.Argument(help="Organization id.")],
    user: Annotated[UUID, typer.Option(help="User id.")],
    role: Annotated[Role, typer.Option(help="The user's role there.")] = Role.MEMBER,
) -> None:
    """Add a user to an organization, or change a member's role."""
    with open_database() as db:
        done = OrgsClient(db).set_member(organization, user, role)
    was = f" (was {done.previous_role.value})" if done.previous_role else ""
    console.print(f"user {done.user_id} is {done.role.value} of organization {done.organization_id}{was}")


@orgs_app.command("remove-member")
@cli_errors
def remove_member(
    organization: Annotated[UUID, typer.Argument(help="Organization id.")],
    user: Annotated[UUID, typer.Option(help="User id.")],
) -> None:
    """Take a user out of an organization and revoke his API keys there."""
    with open_database() as db:
        done = OrgsClient(db).remove_member(organization, user)
    console.print(
        f"user {done.user_id} ({done.role.value}) left organization {done.organization_id};"
        f" API keys revoked: {done.keys_revoked}"
    )


# -- API keys ---------------------------------------------------------------------------------


@keys_app.command("create")
@cli_errors
def create_key(
    user: Annotated[UUID, typer.Option(help="User id: whom the key acts for.")],
    org: Annotated[
        UUID | None, typer.Option(help="Organization it acts in (required when the user has several).")
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
) -> None:
    """Create an API key for a member of an organization (the key is printed once)."""
    key, digest = new_api_key()
    with open_database() as db:
        created = OrgsClient(db).create_api_key(user, digest, name, organization_id=org)
    console.print(f"for user {created.user_id} in organization {created.organization_id}")
    _show_key(created.api_key_id, key)


@keys_app.command("list")
@cli_errors
def list_keys(org: Annotated[UUID, typer.Option(help="Organization id.")]) -> None:
    """List an organization's API keys, newest first (never the keys themselves)."""
    with open_database() as db:
        keys = OrgsClient(db).list_api_keys(org)
    table = Table(title=f"API keys of {org}")
    for column in ("id", "user", "email", "name", "created", "last used", "revoked"):
        table.add_column(column)
    for k in keys:
        table.add_row(
            str(k.api_key_id),
            str(k.user_id),
            k.email or "",
            k.name,
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
    console.print(table)


@keys_app.command("revoke")
@cli_errors
def revoke_key(key_id: Annotated[UUID, typer.Argument(help="API key id.")]) -> None:
    """Revoke an API key: refused from the next request on."""
    with open_database() as db:
        done = OrgsClient(db).revoke_api_key(key_id)
    if done.already_revoked:
        console.print(f"API key {done.api_key_id} was already revoked ({_when(done.revoked_at)})")
    else:
        console.print(f"revoked API key {done.api_key_id}")


@keys_app.command("rotate")
@cli_errors
def rotate_key(key_id: Annotated[UUID, typer.Argument(help="API key id.")]) -> None:
    """Replace an API key by a new one (same user, organization and name); the old one is
    revoked in the same transaction. The new key is printed once."""
    key, digest = new_api_key()
    with open_database() as db:
        done = OrgsClient(db).rotate_api_key(key_id, digest)
    console.print(f"revoked API key {done.replaced_api_key_id}; its replacement:")
    _show_key(done.api_key_id, key)


# -- users ------------------------------------------------------------------------------------


@users_app.command("create")
@cli_errors
def create_user(
    email: Annotated[str, typer.Option(help="The user's email.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    org: Annotated[
        UUID | None, typer.Option(help="Organization to join (default: a new one of his own, as owner).")
    ] = None,
    role: Annotated[Role, typer.Option(help="His role in --org.")] = Role.MEMBER,
) -> None:
    """Create a user, member of an organization, and an API key for him there (shown once)."""
    key, digest = new_api_key()
    with open_database() as db:
        orgs = OrgsClient(db)
        user = orgs.create_user(email, name, org, role)
        created = orgs.create_api_key(user.user_id, digest, organization_id=user.organization_id)
    console.print(f"user [bold]{user.user_id}[/] ({user.email})")
    console.print(f"{user.role.value} of organization [bold]{user.organization_id}[/]")
    _show_key(created.api_key_id, key)


@users_app.command("api-key")
@cli_errors
def create_user_key(
    user: Annotated[UUID, typer.Option(help="User id.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
    org: Annotated[
        UUID | None, typer.Option(help="Organization it acts in (required when the user has several).")
    ] = None,
) -> None:
    """Create another API key for a user; only the key is printed (for scripts)."""
    key, digest = new_api_key()
    with open_database() as db:
        OrgsClient(db).create_api_key(user, digest, name, organization_id=org)
    print(key)
