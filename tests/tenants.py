"""Members of organizations for tests: a user in an organization, with an API key acting there."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from leadledger.api.auth import new_api_key
from leadledger.db import Database
from leadledger.orgs.client import OrgsClient
from leadledger.orgs.models import Role


@dataclass(frozen=True)
class Member:
    user_id: UUID
    organization_id: UUID
    role: Role
    key: str
    email: str

    @property
    def auth(self) -> dict[str, str]:
        """Headers that authenticate as this member (his API key)."""
        return {"X-API-Key": self.key}


def new_member(
    db: Database,
    email: str | None = None,
    name: str | None = None,
    *,
    organization_id: UUID | None = None,
    role: Role = Role.MEMBER,
) -> Member:
    """A new user with an API key: in ``organization_id`` with ``role``, or (without one) the
    owner of an organization of his own."""
    orgs = OrgsClient(db)
    user = orgs.create_user(email or f"user-{uuid4().hex[:10]}@example.com", name, organization_id, role)
    key, digest = new_api_key()
    orgs.create_api_key(user.user_id, digest, organization_id=user.organization_id)
    return Member(user.user_id, user.organization_id, user.role, key, user.email)


# ---------------------------------------------------------------------------------------------
# Cross-tenant probes: every test that tries to reach another organization's data counts its
# attempts here, and how many of them got through (must be 0); the totals are printed at the end
# of the run (tests/conftest.py: pytest_terminal_summary) for the report.
# ---------------------------------------------------------------------------------------------


@dataclass
class CrossTenantLedger:
    attempts: dict[str, int]
    leaks: dict[str, list[str]]

    def record(self, surface: str, what: str, leaked: bool) -> None:
        """One attempt on ``surface`` (``http``, ``sql``, ``rls``, ...); ``what`` names it in a
        leak report. Tests still assert on each attempt; this only counts."""
        self.attempts[surface] = self.attempts.get(surface, 0) + 1
        if leaked:
            self.leaks.setdefault(surface, []).append(what)


LEDGER = CrossTenantLedger({}, {})
