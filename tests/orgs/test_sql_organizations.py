"""Organizations and members: create_organization, list_organizations,
list_organization_members, set_organization_member, remove_organization_member
(orgs/sql/01_organizations.sql): the role rules, the last owner, concurrency, and end users
(PostgREST with a Supabase JWT) confined to their organization."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from tests.helpers import Conn, call_sql, fetch_sql, ok, one, value
from tests.orgs.conftest import (
    UNKNOWN_ID,
    Tenants,
    assert_failed,
    check_failure,
    claims,
    end_users,
    new_organization,
    new_user,
    role_of,
    sql_error,
    state,
)
from tests.tenants import LEDGER

ONLY_ADMINS = "Not allowed: only an admin or owner of the organization may do this"
ONLY_OWNERS = "Not allowed: only an owner of the organization may do this"
KEEPS_AN_OWNER = "An organization keeps at least one owner"

# ---------------------------------------------------------------------------------------------
# create_organization
# ---------------------------------------------------------------------------------------------


def test_create_organization(pg: Conn) -> None:
    owner = new_user(pg)
    created = call_sql(pg, "create_organization", p_name="  Acme Roofing ", p_owner_user_id=owner)
    assert created == {
        "success": True,
        "organization_id": created["organization_id"],
        "name": "Acme Roofing",
        "owner_user_id": owner,
    }
    stored = one(pg, "SELECT * FROM organizations WHERE id = %s", created["organization_id"])
    assert (stored["name"], stored["is_default"]) == ("Acme Roofing", False)
    assert role_of(pg, created["organization_id"], owner) == "owner"
    # The service may create one without an owner (the CLI, then `orgs add-member`).
    alone = ok(pg, "create_organization", p_name="Nobody's")
    assert alone["owner_user_id"] is None
    assert (
        value(
            pg,
            "SELECT count(*) FROM organization_members WHERE organization_id = %s",
            alone["organization_id"],
        )
        == 0
    )


@pytest.mark.parametrize(
    ("params", "code", "error"),
    [
        ({"p_name": None}, "22023", "p_name: must be 1 to 200 characters"),
        ({"p_name": ""}, "22023", "p_name: must be 1 to 200 characters"),
        ({"p_name": "   "}, "22023", "p_name: must be 1 to 200 characters"),
        ({"p_name": "x" * 201}, "22023", "p_name: must be 1 to 200 characters"),
        ({"p_owner_user_id": UNKNOWN_ID}, "23503", "User not found"),
    ],
)
def test_create_organization_refused(
    shared: Conn, shared_tenants: Tenants, params: dict[str, Any], code: str, error: str
) -> None:
    assert_failed(shared, "create_organization", code=code, error=error, **{"p_name": "Org", **params})


def test_end_user_creates_an_organization_for_himself(pg: Conn, tenants: Tenants) -> None:
    t = tenants
    with end_users(pg) as users:
        mine = users.call(claims(t.b_member, t.b), "create_organization", p_name="Side project")
        assert (mine["success"], mine["owner_user_id"]) == (True, t.b_member)
        assert role_of(pg, mine["organization_id"], t.b_member) == "owner"
        before = state(pg)
        for token, params, error in (
            (
                claims(t.b_member, t.b),
                {"p_owner_user_id": t.a_owner},
                "Not allowed: an organization you create is yours",
            ),
            (None, {}, "Not allowed: sign in first"),
            ({"role": "authenticated"}, {}, "Not allowed: sign in first"),
        ):
            result = users.call(token, "create_organization", p_name="Not mine", **params)
            check_failure(result, "42501", error)
        assert state(pg) == before


# ---------------------------------------------------------------------------------------------
# list_organizations, list_organization_members
# ---------------------------------------------------------------------------------------------


def test_list_organizations(pg: Conn, tenants: Tenants) -> None:
    t = tenants
    every = fetch_sql(pg, "list_organizations")
    names = [o["name"] for o in every]
    assert names[0] == "Default organization"  # the oldest
    assert {"Org A", "Org B"} <= set(names)
    assert all(o["role"] is None for o in every)
    assert next(o for o in every if o["name"] == "Org A")["members"] == 3
    side = new_organization(pg, "Side", owner=t.a_member)
    mine = fetch_sql(pg, "list_organizations", p_user_id=t.a_member)
    assert [(str(o["organization_id"]), o["role"], o["members"], o["is_default"]) for o in mine] == [
        (t.a, "member", 3, False),
        (side, "owner", 1, False),
    ]
    assert fetch_sql(pg, "list_organizations", p_user_id=UNKNOWN_ID) == []


def test_list_organization_members(pg: Conn, tenants: Tenants) -> None:
    t = tenants
    members = fetch_sql(pg, "list_organization_members", p_organization_id=t.a)
    assert [(str(m["user_id"]), m["email"], m["role"]) for m in members] == [
        (t.a_owner, "owner-a@example.com", "owner"),
        (t.a_admin, "admin-a@example.com", "admin"),
        (t.a_member, "member-a@example.com", "member"),
    ]
    assert set(members[0]) == {"user_id", "email", "name", "role", "created_at"}
    assert sql_error(pg, "list_organization_members", p_organization_id=UNKNOWN_ID).sqlstate == "23503"
    assert sql_error(pg, "list_organization_members", p_organization_id=None).sqlstate == "22023"


def test_end_user_lists_his_own(pg: Conn, tenants: Tenants) -> None:
    t = tenants
    with end_users(pg) as users:
        member = claims(t.a_member, t.a)
        assert [str(o["organization_id"]) for o in users.fetch(member, "list_organizations")] == [t.a]
        assert [
            str(o["organization_id"]) for o in users.fetch(member, "list_organizations", p_user_id=t.a_member)
        ] == [t.a]
        members = users.fetch(member, "list_organization_members", p_organization_id=t.a)
        assert len(members) == 3
        # Without naming it: the claims' organization.
        assert len(users.fetch(member, "list_organization_members", p_organization_id=None)) == 3
        # The organization may be named in app_metadata (a Supabase custom access token hook).
        hook = {"sub": t.a_member, "role": "authenticated", "app_metadata": {"organization_id": t.a}}
        assert len(users.fetch(hook, "list_organization_members", p_organization_id=t.a)) == 3


# ---------------------------------------------------------------------------------------------
# set_organization_member, remove_organization_member: the role rules
# ---------------------------------------------------------------------------------------------


def test_set_member_role_rules(pg: Conn, tenants: Tenants) -> None:
    """As the HTTP API calls it (the service acting for the caller, p_acting_user_id)."""
    t = tenants
    newcomer = new_user(pg, t.b)  # a user of another organization, joining A too

    def set_role(actor: str, user: str, role: str) -> dict[str, Any]:
        return call_sql(
            pg,
            "set_organization_member",
            p_organization_id=t.a,
            p_user_id=user,
            p_role=role,
            p_acting_user_id=actor,
        )

    before = state(pg)
    check_failure(set_role(t.a_member, newcomer, "member"), "42501", ONLY_ADMINS)  # a member adds no one
    check_failure(set_role(t.a_admin, newcomer, "admin"), "42501", ONLY_OWNERS)  # an admin makes no admin
    check_failure(set_role(t.a_admin, newcomer, "owner"), "42501", ONLY_OWNERS)
    check_failure(set_role(t.a_admin, t.a_member, "admin"), "42501", ONLY_OWNERS)  # nor promotes
    check_failure(set_role(t.a_admin, t.a_owner, "member"), "42501", ONLY_OWNERS)  # nor demotes an owner
    check_failure(set_role(t.a_admin, t.a_admin, "member"), "42501", ONLY_OWNERS)  # nor himself
    assert state(pg) == before

    added = set_role(t.a_admin, newcomer, "member")  # an admin adds members
    assert added == {
        "success": True,
        "organization_id": t.a,
        "user_id": newcomer,
        "role": "member",
        "previous_role": None,
    }
    assert set_role(t.a_admin, newcomer, "member")["previous_role"] == "member"  # idempotent
    promoted = set_role(t.a_owner, newcomer, "admin")  # an owner makes admins
    assert (promoted["role"], promoted["previous_role"]) == ("admin", "member")
    assert (
        ok(
            pg,
            "set_organization_member",
            p_organization_id=t.a,
            p_user_id=newcomer,
            p_role="owner",
            p_acting_user_id=t.a_owner,
        )["previous_role"]
        == "admin"
    )
    # Two owners: one may step down, then the other is the last and may not.
    assert set_role(t.a_owner, t.a_owner, "admin")["success"] is True
    check_failure(set_role(newcomer, newcomer, "member"), "P0001", KEEPS_AN_OWNER)
    assert role_of(pg, t.a, newcomer) == "owner"
    assert role_of(pg, t.b, newcomer) == "member"  # his other organization is untouched


def test_the_last_owner_stays_even_for_the_service(pg: Conn, tenants: Tenants) -> None:
    t = tenants
    assert_failed(
        pg,
        "set_organization_member",
        code="P0001",
        error=KEEPS_AN_OWNER,
        p_organization_id=t.a,
        p_user_id=t.a_owner,
        p_role="admin",
    )
    assert_failed(
        pg,
        "remove_organization_member",
        code="P0001",
        error=KEEPS_AN_OWNER,
        p_organization_id=t.a,
        p_user_id=t.a_owner,
    )


@pytest.mark.parametrize(
    ("params", "code", "error"),
    [
        ({"p_role": "boss"}, "22023", "p_role: must be owner, admin or member, got 'boss'"),
        ({"p_role": None}, "22023", "p_role: must be owner, admin or member, got nothing"),
        ({"p_user_id": None}, "22023", "p_user_id: is required"),
        ({"p_organization_id": None}, "22023", "p_organization_id: is required"),
        ({"p_user_id": UNKNOWN_ID}, "23503", "User not found"),
        ({"p_organization_id": UNKNOWN_ID}, "23503", "Organization not found"),
        ({"p_acting_user_id": UNKNOWN_ID}, "42501", ONLY_ADMINS),
        ({"p_acting_user_id": "<b owner>"}, "42501", ONLY_ADMINS),  # an owner, of another organization
    ],
)
def test_set_member_refused(
    shared: Conn, shared_tenants: Tenants, params: dict[str, Any], code: str, error: str
) -> None:
    t = shared_tenants
    full = {
        "p_organization_id": t.a,
        "p_user_id": t.b_member,
        "p_role": "member",
        "p_acting_user_id": t.a_admin,
        **params,
    }
    assert_failed(
        shared,
        "set_organization_member",
        code=code,
        error=error,
        **{k: t.b_owner if v == "<b owner>" else v for k, v in full.items()},
    )
    if "<b owner>" in params.values():
        LEDGER.record("sql", "set_organization_member as the service for B's owner on A", False)


def test_remove_member_role_rules(pg: Conn, tenants: Tenants) -> None:
    t = tenants
    second_admin = new_user(pg, t.a, "admin")

    def remove(actor: str, user: str) -> dict[str, Any]:
        return call_sql(
            pg, "remove_organization_member", p_organization_id=t.a, p_user_id=user, p_acting_user_id=actor
        )

    before = state(pg)
    check_failure(remove(t.a_member, t.a_admin), "42501", ONLY_OWNERS)
    check_failure(remove(t.a_member, t.a_member), "42501", ONLY_ADMINS)  # leaving is an admin's call too
    check_failure(remove(t.a_admin, second_admin), "42501", ONLY_OWNERS)  # an admin removes no admin
    check_failure(remove(t.a_admin, t.a_owner), "42501", ONLY_OWNERS)
    check_failure(remove(t.a_owner, t.a_owner), "P0001", KEEPS_AN_OWNER)
    check_failure(remove(t.a_owner, t.b_member), "23503", "Member not found")
    check_failure(remove(t.a_owner, UNKNOWN_ID), "23503", "Member not found")
    assert state(pg) == before

    removed = remove(t.a_admin, t.a_member)  # an admin removes members
    assert removed == {
        "success": True,
        "organization_id": t.a,
        "user_id": t.a_member,
        "role": "member",
        "keys_revoked": 1,
    }
    assert role_of(pg, t.a, t.a_member) is None
    assert value(pg, "SELECT count(*) FROM app_users WHERE id = %s", t.a_member) == 1  # the user stays
    assert remove(t.a_owner, second_admin)["success"] is True  # an owner removes admins
    assert ok(
        pg,
        "set_organization_member",
        p_organization_id=t.a,
        p_user_id=t.a_admin,
        p_role="owner",
        p_acting_user_id=t.a_owner,
    )["success"]
    assert remove(t.a_admin, t.a_owner)["role"] == "owner"  # an owner removes another owner
    check_failure(remove(t.a_admin, t.a_admin), "P0001", KEEPS_AN_OWNER)
    assert_failed(
        pg,
        "remove_organization_member",
        code="23503",
        error="Organization not found",
        p_organization_id=UNKNOWN_ID,
        p_user_id=t.a_admin,
    )


# ---------------------------------------------------------------------------------------------
# Concurrency: the last owner
# ---------------------------------------------------------------------------------------------


def _at_once(
    db_url: str, calls: list[Callable[[Conn], dict[str, Any]]], blocker_org: str
) -> list[dict[str, Any]]:
    """Run the calls on their own connections while another transaction holds the organization's
    row: all of them are inside their function, waiting on that lock, when it is released."""
    with psycopg.connect(db_url) as blocker, psycopg.connect(db_url, autocommit=True) as watcher:
        blocker.execute("SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", (blocker_org,))

        def run(call: Callable[[Conn], dict[str, Any]]) -> dict[str, Any]:
            with psycopg.connect(db_url, autocommit=True) as c:
                return call(c)

        waiting = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        with ThreadPoolExecutor(len(calls)) as pool:
            futures = [pool.submit(run, call) for call in calls]
            deadline = time.monotonic() + 10
            while value(watcher, waiting) < len(calls):
                assert time.monotonic() < deadline, "the calls did not queue on the organization's row"
                time.sleep(0.01)
            blocker.rollback()
            return [f.result() for f in futures]


def _remove(organization: str, user: str, actor: str | None = None) -> Callable[[Conn], dict[str, Any]]:
    return lambda c: call_sql(
        c,
        "remove_organization_member",
        p_organization_id=organization,
        p_user_id=user,
        p_acting_user_id=actor,
    )


def _demote(organization: str, user: str, actor: str | None = None) -> Callable[[Conn], dict[str, Any]]:
    return lambda c: call_sql(
        c,
        "set_organization_member",
        p_organization_id=organization,
        p_user_id=user,
        p_role="member",
        p_acting_user_id=actor,
    )


@pytest.mark.parametrize("how", ["remove", "demote", "mixed"])
def test_two_owners_taken_away_at_once_leave_one(db_url: str, pg: Conn, tenants: Tenants, how: str) -> None:
    """The two owners of an organization are removed (or demoted) at the same moment, by the
    operator and by each other: one call succeeds, the other is refused, an owner remains."""
    t = tenants
    second = new_user(pg, t.a, "owner")
    first_call = {"remove": _remove, "demote": _demote, "mixed": _remove}[how]
    second_call = {"remove": _remove, "demote": _demote, "mixed": _demote}[how]
    for actors in ((None, None), (second, t.a_owner)):  # the CLI; each owner on the other
        results = _at_once(
            db_url, [first_call(t.a, t.a_owner, actors[0]), second_call(t.a, second, actors[1])], t.a
        )
        assert sorted(r["success"] for r in results) == [False, True], results
        refused = next(r for r in results if not r["success"])
        # The operator hits the owner rule; an owner whose ownership went first is no longer one.
        assert refused["error"] in (KEEPS_AN_OWNER, ONLY_OWNERS), refused
        owners = value(
            pg, "SELECT count(*) FROM organization_members WHERE organization_id = %s AND role = 'owner'", t.a
        )
        assert owners == 1
        # Back to two owners for the next round.
        for user in (t.a_owner, second):
            ok(pg, "set_organization_member", p_organization_id=t.a, p_user_id=user, p_role="owner")


def test_many_concurrent_removals_never_leave_no_owner(db_url: str, pg: Conn, tenants: Tenants) -> None:
    """Five owners, and the operator removes all five at once, twenty times over (no blocker:
    the calls race as they come)."""
    t = tenants
    owners = [t.a_owner] + [new_user(pg, t.a, "owner") for _ in range(4)]
    barrier = threading.Barrier(len(owners))

    def remove(user: str) -> dict[str, Any]:
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait()
            return call_sql(c, "remove_organization_member", p_organization_id=t.a, p_user_id=user)

    for _ in range(20):
        with ThreadPoolExecutor(len(owners)) as pool:
            results = list(pool.map(remove, owners))
        assert sum(r["success"] for r in results) == len(owners) - 1, results
        for r in results:
            if not r["success"]:
                check_failure(r, "P0001", KEEPS_AN_OWNER)
        assert (
            value(
                pg,
                "SELECT count(*) FROM organization_members WHERE organization_id = %s AND role = 'owner'",
                t.a,
            )
            == 1
        )
        for user in owners:
            ok(pg, "set_organization_member", p_organization_id=t.a, p_user_id=user, p_role="owner")


# ---------------------------------------------------------------------------------------------
# End users: their organization's members, by their role
# ---------------------------------------------------------------------------------------------


def test_end_user_role_rules(pg: Conn, tenants: Tenants) -> None:
    """The same rules through PostgREST: the claims' user is the acting user, whatever
    p_acting_user_id says."""
    t = tenants
    newcomer = new_user(pg, t.b)
    with end_users(pg) as users:
        member, admin, owner = (claims(u, t.a) for u in (t.a_member, t.a_admin, t.a_owner))
        before = state(pg)
        check_failure(
            users.call(
                member,
                "set_organization_member",
                p_organization_id=t.a,
                p_user_id=newcomer,
                p_acting_user_id=t.a_owner,
            ),
            "42501",
            ONLY_ADMINS,
        )
        check_failure(
            users.call(
                admin,
                "set_organization_member",
                p_organization_id=t.a,
                p_user_id=newcomer,
                p_role="admin",
                p_acting_user_id=t.a_owner,
            ),
            "42501",
            ONLY_OWNERS,
        )
        check_failure(
            users.call(
                admin,
                "remove_organization_member",
                p_organization_id=t.a,
                p_user_id=t.a_owner,
                p_acting_user_id=t.a_owner,
            ),
            "42501",
            ONLY_OWNERS,
        )
        check_failure(
            users.call(owner, "remove_organization_member", p_organization_id=t.a, p_user_id=t.a_owner),
            "P0001",
            KEEPS_AN_OWNER,
        )
        assert state(pg) == before
        added = users.call(admin, "set_organization_member", p_organization_id=t.a, p_user_id=newcomer)
        assert (added["success"], added["role"]) == (True, "member")
        promoted = users.call(
            owner, "set_organization_member", p_organization_id=None, p_user_id=newcomer, p_role="admin"
        )
        assert (promoted["success"], promoted["organization_id"]) == (True, t.a)
        removed = users.call(owner, "remove_organization_member", p_organization_id=t.a, p_user_id=newcomer)
        assert removed["success"] is True


# ---------------------------------------------------------------------------------------------
# Cross-tenant: B's people on A's organization
# ---------------------------------------------------------------------------------------------


def test_end_user_of_another_organization_reaches_nothing(pg: Conn, tenants: Tenants) -> None:
    """B's owner with a valid JWT for B, on organization A: 'Organization not found' as for an
    organization that does not exist, and nothing written; a JWT naming A (he is not a member),
    app_metadata naming A, user_metadata (never read), no user, no claims: 42501. Each attempt
    is counted (tests/tenants.py)."""
    t = tenants
    b_owner = claims(t.b_owner, t.b)
    not_a_member = [
        claims(t.b_owner, t.a),
        {"sub": t.b_owner, "role": "authenticated", "app_metadata": {"organization_id": t.a}},
        {"sub": t.a_owner, "role": "authenticated", "user_metadata": {"organization_id": t.a}},
        {"role": "authenticated", "organization_id": t.a},
        {"role": "authenticated"},
        {"sub": "not-a-uuid", "organization_id": t.a},
        None,
    ]
    writes: list[tuple[str, dict[str, Any]]] = [
        ("set_organization_member", {"p_organization_id": t.a, "p_user_id": t.b_owner, "p_role": "owner"}),
        ("set_organization_member", {"p_organization_id": t.a, "p_user_id": t.a_owner, "p_role": "member"}),
        ("remove_organization_member", {"p_organization_id": t.a, "p_user_id": t.a_member}),
        (
            "remove_organization_member",
            {"p_organization_id": t.a, "p_user_id": t.a_owner, "p_acting_user_id": t.a_owner},
        ),
    ]
    before = state(pg)
    with end_users(pg) as users:
        for function, params in writes:
            result = users.call(b_owner, function, **params)
            LEDGER.record("sql", f"{function} {params} as B's owner", result["success"] is not False)
            check_failure(result, "23503", "Organization not found")
            for token in not_a_member:
                result = users.call(token, function, **params)
                LEDGER.record("sql", f"{function} {params} ({token})", result["success"] is not False)
                check_failure(result, "42501")
        # Members of A, by a member of B naming A's user as someone in his own organization.
        result = users.call(
            b_owner, "remove_organization_member", p_organization_id=None, p_user_id=t.a_member
        )
        LEDGER.record(
            "sql", "remove_organization_member of A's member within B", result["success"] is not False
        )
        check_failure(result, "23503", "Member not found")
        result = users.call(b_owner, "set_organization_member", p_organization_id=None, p_user_id=t.a_owner)
        # Adding an existing user to one's own organization is allowed (an owner adds people by id);
        # it gives B nothing of A's: rolled back below with the rest.
        assert result["success"] is True

        for token in [b_owner, *not_a_member]:
            error = users.error(token, "list_organization_members", p_organization_id=t.a)
            expected = "23503" if token is b_owner else "42501"
            LEDGER.record("sql", f"list_organization_members of A ({token})", error.sqlstate != expected)
            assert error.sqlstate == expected, (token, error)
        for token in not_a_member:
            if token and token.get("sub") == t.a_owner:
                continue  # A's owner himself (with user_metadata): his list is his own
            error = users.error(token, "list_organizations", p_user_id=t.a_owner)
            LEDGER.record("sql", f"list_organizations of A's owner ({token})", error.sqlstate != "42501")
            assert error.sqlstate == "42501"
        error = users.error(b_owner, "list_organizations", p_user_id=t.a_owner)
        LEDGER.record("sql", "list_organizations of A's owner as B's owner", error.sqlstate != "42501")
        assert error.sqlstate == "42501"
        listed = users.fetch(b_owner, "list_organizations")
        LEDGER.record(
            "sql", "list_organizations as B's owner", {str(o["organization_id"]) for o in listed} != {t.b}
        )
        assert [str(o["organization_id"]) for o in listed] == [t.b]
        members = users.fetch(b_owner, "list_organization_members", p_organization_id=None)
        seen = {str(m["user_id"]) for m in members}
        LEDGER.record(
            "sql", "list_organization_members as B's owner", not seen <= {t.b_owner, t.b_member, t.a_owner}
        )
    assert state(pg) == before
