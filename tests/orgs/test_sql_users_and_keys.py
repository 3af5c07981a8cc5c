"""Users and API keys: create_app_user, create_api_key, authenticate_api_key, list_api_keys,
revoke_api_key, rotate_api_key (orgs/sql/02_users_and_keys.sql)."""

from __future__ import annotations

import threading
import time
import uuid
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
    key_hash,
    new_key,
    new_organization,
    new_user,
    sql_error,
    state,
)
from tests.tenants import LEDGER

# ---------------------------------------------------------------------------------------------
# create_app_user
# ---------------------------------------------------------------------------------------------


def test_create_app_user_without_an_organization_gets_one_of_his_own(pg: Conn) -> None:
    result = call_sql(pg, "create_app_user", p_email="  Owner@Example.COM ", p_name="Owner")
    assert result == {
        "success": True,
        "user_id": result["user_id"],
        "email": "owner@example.com",
        "organization_id": result["organization_id"],
        "role": "owner",
    }
    stored = one(pg, "SELECT * FROM app_users WHERE id = %s", result["user_id"])
    assert (stored["email"], stored["name"]) == ("owner@example.com", "Owner")
    organization = one(pg, "SELECT * FROM organizations WHERE id = %s", result["organization_id"])
    assert (organization["name"], organization["is_default"]) == ("Owner", False)
    members = fetch_sql(pg, "list_organization_members", p_organization_id=result["organization_id"])
    assert [(str(m["user_id"]), m["role"]) for m in members] == [(result["user_id"], "owner")]

    chosen = str(uuid.uuid4())  # on Supabase, the auth.users id
    explicit = call_sql(pg, "create_app_user", p_email="second@example.com", p_user_id=chosen)
    assert (explicit["user_id"], explicit["role"]) == (chosen, "owner")
    assert one(pg, "SELECT name FROM app_users WHERE id = %s", chosen)["name"] is None
    # Without a name the organization is named after the email.
    assert value(pg, "SELECT name FROM organizations WHERE id = %s", explicit["organization_id"]) == (
        "second@example.com"
    )


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_create_app_user_in_an_organization(pg: Conn, role: str) -> None:
    organization = new_organization(pg, "Acme")
    organizations_before = value(pg, "SELECT count(*) FROM organizations")
    result = ok(
        pg, "create_app_user", p_email="ana@acme.example", p_organization_id=organization, p_role=role
    )
    assert (result["organization_id"], result["role"]) == (organization, role)
    assert value(pg, "SELECT count(*) FROM organizations") == organizations_before
    assert (
        value(
            pg,
            "SELECT role FROM organization_members WHERE user_id = %s AND organization_id = %s",
            result["user_id"],
            organization,
        )
        == role
    )


@pytest.mark.parametrize(
    "email", [None, "", "owner", "owner@example", "a b@example.com", "@example.com", "a@@b.c"]
)
def test_create_app_user_bad_email(shared: Conn, shared_tenants: Tenants, email: str | None) -> None:
    assert_failed(
        shared, "create_app_user", code="22023", error="p_email: must be an email address", p_email=email
    )


@pytest.mark.parametrize(
    ("params", "code", "error"),
    [
        ({"p_role": "boss"}, "22023", "p_role: must be owner, admin or member"),
        ({"p_role": None}, "22023", "p_role: must be owner, admin or member"),
        ({"p_organization_id": UNKNOWN_ID}, "23503", "Organization not found"),
        ({"p_email": "OWNER-A@example.com"}, "23505", "Duplicate record detected"),  # case does not matter
        ({"p_user_id": "<owner a>"}, "23505", "Duplicate record detected"),  # the id is taken
    ],
)
def test_create_app_user_refused(
    shared: Conn, shared_tenants: Tenants, params: dict[str, Any], code: str, error: str
) -> None:
    """Refused before or after the user row: nothing written, no organization either."""
    full = {"p_email": "new@example.com", **params}
    resolved = {k: shared_tenants.a_owner if v == "<owner a>" else v for k, v in full.items()}
    assert_failed(shared, "create_app_user", code=code, error=error, **resolved)


# ---------------------------------------------------------------------------------------------
# create_api_key
# ---------------------------------------------------------------------------------------------


def test_create_api_key(pg: Conn) -> None:
    user = ok(pg, "create_app_user", p_email="owner@example.com")
    user_id, organization = str(user["user_id"]), str(user["organization_id"])
    digest = key_hash("llk_secret")
    created = call_sql(pg, "create_api_key", p_user_id=user_id, p_key_hash=digest, p_name="ci")
    assert created == {
        "success": True,
        "api_key_id": created["api_key_id"],
        "user_id": user_id,
        "organization_id": organization,  # his one organization
    }
    stored = one(pg, "SELECT * FROM api_keys WHERE id = %s", created["api_key_id"])
    assert (stored["key_hash"], stored["name"], stored["revoked_at"], stored["last_used_at"]) == (
        digest,
        "ci",
        None,
        None,
    )
    assert str(stored["organization_id"]) == organization

    unnamed = call_sql(pg, "create_api_key", p_user_id=user_id, p_key_hash=key_hash("k2"), p_name=None)
    assert one(pg, "SELECT name FROM api_keys WHERE id = %s", unnamed["api_key_id"])["name"] == "default"
    blank = call_sql(pg, "create_api_key", p_user_id=user_id, p_key_hash=key_hash("k3"), p_name="  ")
    assert one(pg, "SELECT name FROM api_keys WHERE id = %s", blank["api_key_id"])["name"] == "default"


def test_create_api_key_of_a_user_of_several_organizations_names_one(pg: Conn) -> None:
    user = ok(pg, "create_app_user", p_email="two@example.com")
    other = new_organization(pg, "Second", owner=str(user["user_id"]))
    assert_failed(
        pg,
        "create_api_key",
        code="22023",
        error="p_organization_id: is required: the user belongs to 2 organizations",
        p_user_id=user["user_id"],
        p_key_hash=key_hash("k"),
    )
    created = ok(
        pg, "create_api_key", p_user_id=user["user_id"], p_key_hash=key_hash("k"), p_organization_id=other
    )
    assert created["organization_id"] == other


def test_create_api_key_roles(pg: Conn, tenants: Tenants) -> None:
    """The HTTP API acts for a user (p_acting_user_id): admins and owners create keys, members
    do not; the CLI (no acting user) may."""
    for actor in (tenants.a_owner, tenants.a_admin):
        ok(
            pg,
            "create_api_key",
            p_user_id=tenants.a_member,
            p_key_hash=key_hash(f"by {actor}"),
            p_organization_id=tenants.a,
            p_acting_user_id=actor,
        )
    assert_failed(
        pg,
        "create_api_key",
        code="42501",
        error="Not allowed: only an admin or owner of the organization may do this",
        p_user_id=tenants.a_member,
        p_key_hash=key_hash("by member"),
        p_organization_id=tenants.a,
        p_acting_user_id=tenants.a_member,
    )
    # An owner of B acting for B cannot make a key in A, nor for A's member in B.
    for organization in (tenants.a, tenants.b):
        result = call_sql(
            pg,
            "create_api_key",
            p_user_id=tenants.a_member,
            p_key_hash=key_hash(f"b in {organization}"),
            p_organization_id=organization,
            p_acting_user_id=tenants.b_owner,
        )
        assert result["success"] is False, result
        LEDGER.record("sql", "create_api_key as the service for B's owner", result["success"])


ONLY_OWNERS = "Not allowed: only an owner of the organization may do this"


def test_only_owners_manage_the_keys_of_admins_and_owners(pg: Conn, tenants: Tenants) -> None:
    """A key acts with its user's role: an admin who could create, rotate (and so receive) an
    owner's or another admin's key would act as them. Admins manage their own keys and members';
    owners anyone's."""
    t = tenants
    other_admin = new_user(pg, t.a, "admin")
    admin_key, _ = new_key(pg, other_admin, t.a)
    before = state(pg)
    for target_user, target_key in ((t.a_owner, t.a_owner_key), (other_admin, admin_key)):
        for function, params in (
            ("create_api_key", {"p_user_id": target_user, "p_key_hash": key_hash("escalate")}),
            ("rotate_api_key", {"p_api_key_id": target_key, "p_new_key_hash": key_hash("escalate")}),
            ("revoke_api_key", {"p_api_key_id": target_key}),
        ):
            result = call_sql(pg, function, p_organization_id=t.a, p_acting_user_id=t.a_admin, **params)
            check_failure(result, "42501", ONLY_OWNERS)
    assert state(pg) == before
    # His own keys and members': yes.
    own, _ = new_key(pg, t.a_admin, t.a)
    for key_id in (own, t.a_member_key):
        rotated = ok(
            pg,
            "rotate_api_key",
            p_api_key_id=key_id,
            p_new_key_hash=key_hash(f"r{key_id}"),
            p_organization_id=t.a,
            p_acting_user_id=t.a_admin,
        )
        ok(
            pg,
            "revoke_api_key",
            p_api_key_id=rotated["api_key_id"],
            p_organization_id=t.a,
            p_acting_user_id=t.a_admin,
        )
    for user in (t.a_admin, t.a_member):
        ok(
            pg,
            "create_api_key",
            p_user_id=user,
            p_key_hash=key_hash(f"c{user}"),
            p_organization_id=t.a,
            p_acting_user_id=t.a_admin,
        )
    # An owner: anyone's, another owner's included.
    second_owner = new_user(pg, t.a, "owner")
    for user in (t.a_admin, other_admin, second_owner):
        created = ok(
            pg,
            "create_api_key",
            p_user_id=user,
            p_key_hash=key_hash(f"o{user}"),
            p_organization_id=t.a,
            p_acting_user_id=t.a_owner,
        )
        rotated = ok(
            pg,
            "rotate_api_key",
            p_api_key_id=created["api_key_id"],
            p_new_key_hash=key_hash(f"o2{user}"),
            p_acting_user_id=t.a_owner,
        )
        ok(pg, "revoke_api_key", p_api_key_id=rotated["api_key_id"], p_acting_user_id=t.a_owner)


@pytest.mark.parametrize(
    ("params", "code", "error"),
    [
        ({"p_key_hash": "AB" * 32}, "22023", "p_key_hash: must be a hex SHA-256 digest"),
        ({"p_key_hash": "ab" * 31}, "22023", "p_key_hash: must be a hex SHA-256 digest"),
        ({"p_key_hash": "llk_plaintext"}, "22023", "p_key_hash: must be a hex SHA-256 digest"),
        ({"p_key_hash": None}, "22023", "p_key_hash: must be a hex SHA-256 digest"),
        ({"p_key_hash": "<a member's hash>"}, "23505", "Duplicate record detected"),
        ({"p_user_id": None}, "22023", "p_user_id: is required"),
        (
            {"p_user_id": UNKNOWN_ID},
            "22023",
            "p_organization_id: is required: the user belongs to no organization",
        ),
        ({"p_user_id": UNKNOWN_ID, "p_organization_id": "<a>"}, "23503", "Member not found"),
        ({"p_user_id": "<b owner>", "p_organization_id": "<a>"}, "23503", "Member not found"),
        ({"p_organization_id": UNKNOWN_ID}, "23503", "Member not found"),
    ],
)
def test_create_api_key_refused(
    shared: Conn, shared_tenants: Tenants, params: dict[str, Any], code: str, error: str
) -> None:
    t = shared_tenants
    names = {"<a member's hash>": t.a_member_hash, "<a>": t.a, "<b owner>": t.b_owner}
    full = {"p_user_id": t.a_member, "p_key_hash": "cd" * 32, **params}
    assert_failed(
        shared, "create_api_key", code=code, error=error, **{k: names.get(v, v) for k, v in full.items()}
    )


# ---------------------------------------------------------------------------------------------
# authenticate_api_key
# ---------------------------------------------------------------------------------------------


def authenticated(conn: Conn, digest: str | None) -> list[tuple[str, str, str, str]]:
    return [
        (str(r["user_id"]), str(r["organization_id"]), r["role"], str(r["api_key_id"]))
        for r in fetch_sql(conn, "authenticate_api_key", p_key_hash=digest)
    ]


def test_authenticate_names_user_organization_and_role(pg: Conn, tenants: Tenants) -> None:
    key_id, digest = new_key(pg, tenants.a_admin, tenants.a)
    assert authenticated(pg, digest) == [(tenants.a_admin, tenants.a, "admin", key_id)]
    assert authenticated(pg, key_hash("llk_other")) == []
    assert authenticated(pg, None) == []
    # The role is read at each call: a promotion shows at once.
    ok(pg, "set_organization_member", p_organization_id=tenants.a, p_user_id=tenants.a_admin, p_role="owner")
    assert authenticated(pg, digest) == [(tenants.a_admin, tenants.a, "owner", key_id)]


def test_a_revoked_key_is_refused(pg: Conn, tenants: Tenants) -> None:
    assert authenticated(pg, tenants.a_member_hash) != []
    ok(pg, "revoke_api_key", p_api_key_id=tenants.a_member_key)
    assert authenticated(pg, tenants.a_member_hash) == []


def test_a_key_of_a_user_who_left_the_organization_is_refused(pg: Conn, tenants: Tenants) -> None:
    """Even a key that nobody revoked: the membership is checked at each call."""
    second_id, second = new_key(pg, tenants.a_member, tenants.a, "second")
    pg.execute(
        "DELETE FROM organization_members WHERE organization_id = %s AND user_id = %s",
        (tenants.a, tenants.a_member),
    )
    assert value(pg, "SELECT revoked_at FROM api_keys WHERE id = %s", second_id) is None
    assert authenticated(pg, tenants.a_member_hash) == []
    assert authenticated(pg, second) == []
    # Joining again does not bring back the keys remove_organization_member revoked, but these were
    # never revoked: they act again.
    ok(pg, "set_organization_member", p_organization_id=tenants.a, p_user_id=tenants.a_member)
    assert len(authenticated(pg, second)) == 1


def test_remove_organization_member_revokes_his_keys(pg: Conn, tenants: Tenants) -> None:
    removed = ok(pg, "remove_organization_member", p_organization_id=tenants.a, p_user_id=tenants.a_member)
    assert removed["keys_revoked"] == 1
    ok(pg, "set_organization_member", p_organization_id=tenants.a, p_user_id=tenants.a_member)
    assert authenticated(pg, tenants.a_member_hash) == []  # back in, but the key stays revoked


def test_last_used_at_is_written_at_most_once_a_minute(pg: Conn, tenants: Tenants) -> None:
    key = tenants.a_member_key
    last_used = "SELECT last_used_at FROM api_keys WHERE id = %s"
    assert value(pg, last_used, key) is None
    authenticated(pg, tenants.a_member_hash)
    first = value(pg, last_used, key)
    assert first is not None
    xmin = value(pg, "SELECT xmin::text FROM api_keys WHERE id = %s", key)
    for _ in range(3):
        authenticated(pg, tenants.a_member_hash)
    assert value(pg, last_used, key) == first
    assert value(pg, "SELECT xmin::text FROM api_keys WHERE id = %s", key) == xmin  # not even rewritten
    pg.execute("UPDATE api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = %s", (key,))
    stale = value(pg, last_used, key)
    authenticated(pg, tenants.a_member_hash)
    assert value(pg, last_used, key) > stale
    # A revoked key is not touched.
    ok(pg, "revoke_api_key", p_api_key_id=key)
    pg.execute("UPDATE api_keys SET last_used_at = NULL WHERE id = %s", (key,))
    authenticated(pg, tenants.a_member_hash)
    assert value(pg, last_used, key) is None


def test_authenticate_does_not_wait_for_a_locked_key(db_url: str, pg: Conn, tenants: Tenants) -> None:
    """A request racing another on the same key skips the last_used_at write (SKIP LOCKED)
    rather than queueing behind it."""
    with psycopg.connect(db_url) as blocker:
        blocker.execute("SELECT 1 FROM api_keys WHERE id = %s FOR UPDATE", (tenants.a_member_key,))
        pg.execute("SET statement_timeout = '2s'")
        started = time.monotonic()
        assert authenticated(pg, tenants.a_member_hash) == [
            (tenants.a_member, tenants.a, "member", tenants.a_member_key)
        ]
        assert time.monotonic() - started < 1.5
        blocker.rollback()
    assert value(pg, "SELECT last_used_at FROM api_keys WHERE id = %s", tenants.a_member_key) is None


# ---------------------------------------------------------------------------------------------
# list_api_keys
# ---------------------------------------------------------------------------------------------


def test_list_api_keys(pg: Conn, tenants: Tenants) -> None:
    ok(pg, "revoke_api_key", p_api_key_id=tenants.a_member_key)
    newest, _ = new_key(pg, tenants.a_admin, tenants.a, "newest")
    keys = fetch_sql(pg, "list_api_keys", p_organization_id=tenants.a, p_acting_user_id=tenants.a_admin)
    assert [str(k["api_key_id"]) for k in keys] == [newest, tenants.a_member_key, tenants.a_owner_key]
    assert set(keys[0]) == {
        "api_key_id",
        "user_id",
        "email",
        "name",
        "created_at",
        "last_used_at",
        "revoked_at",
    }
    assert (keys[0]["email"], keys[0]["name"], keys[0]["revoked_at"]) == (
        "admin-a@example.com",
        "newest",
        None,
    )
    assert keys[1]["revoked_at"] is not None
    # The service acting for no one (the CLI) lists too; B's list has only B's key.
    assert len(fetch_sql(pg, "list_api_keys", p_organization_id=tenants.a)) == 3
    b_keys = fetch_sql(pg, "list_api_keys", p_organization_id=tenants.b)
    assert [str(k["api_key_id"]) for k in b_keys] == [tenants.b_owner_key]


def test_list_api_keys_refused(shared: Conn, shared_tenants: Tenants) -> None:
    t = shared_tenants
    error = sql_error(shared, "list_api_keys", p_organization_id=t.a, p_acting_user_id=t.a_member)
    assert error.sqlstate == "42501"
    error = sql_error(shared, "list_api_keys", p_organization_id=None)
    assert error.sqlstate == "22023"
    assert str(error.diag.message_primary).startswith("p_organization_id: is required")
    # The service acting for B's owner on A (the HTTP API would never pass that pair).
    error = sql_error(shared, "list_api_keys", p_organization_id=t.a, p_acting_user_id=t.b_owner)
    assert error.sqlstate == "42501"
    LEDGER.record("sql", "list_api_keys as the service for B's owner on A", False)


# ---------------------------------------------------------------------------------------------
# revoke_api_key
# ---------------------------------------------------------------------------------------------


def test_revoke_api_key_is_idempotent(pg: Conn, tenants: Tenants) -> None:
    first = call_sql(
        pg,
        "revoke_api_key",
        p_api_key_id=tenants.a_member_key,
        p_organization_id=tenants.a,
        p_acting_user_id=tenants.a_admin,
    )
    assert first == {
        "success": True,
        "api_key_id": tenants.a_member_key,
        "organization_id": tenants.a,
        "revoked_at": first["revoked_at"],
        "already_revoked": False,
    }
    revoked_at = value(pg, "SELECT revoked_at FROM api_keys WHERE id = %s", tenants.a_member_key)
    before = state(pg)
    again = ok(pg, "revoke_api_key", p_api_key_id=tenants.a_member_key)
    assert again["already_revoked"] is True
    assert again["revoked_at"] == first["revoked_at"]
    assert value(pg, "SELECT revoked_at FROM api_keys WHERE id = %s", tenants.a_member_key) == revoked_at
    assert state(pg) == before


@pytest.mark.parametrize(
    ("params", "code", "error"),
    [
        ({"p_api_key_id": UNKNOWN_ID}, "23503", "API key not found"),
        ({"p_api_key_id": None}, "23503", "API key not found"),
        ({"p_organization_id": "<b>"}, "23503", "API key not found"),  # A's key, within B
        (
            {"p_organization_id": "<a>", "p_acting_user_id": "<a member>"},
            "42501",
            "Not allowed: only an admin or owner of the organization may do this",
        ),
        (
            {"p_acting_user_id": "<b owner>"},
            "42501",
            "Not allowed: only an admin or owner of the organization may do this",
        ),
    ],
)
def test_revoke_api_key_refused(
    shared: Conn, shared_tenants: Tenants, params: dict[str, Any], code: str, error: str
) -> None:
    t = shared_tenants
    names = {"<a>": t.a, "<b>": t.b, "<a member>": t.a_member, "<b owner>": t.b_owner}
    full = {"p_api_key_id": t.a_member_key, **params}
    assert_failed(
        shared, "revoke_api_key", code=code, error=error, **{k: names.get(v, v) for k, v in full.items()}
    )
    if "<b>" in params.values() or "<b owner>" in params.values():
        LEDGER.record("sql", f"revoke_api_key {params}", False)


# ---------------------------------------------------------------------------------------------
# rotate_api_key
# ---------------------------------------------------------------------------------------------


def test_rotate_api_key(pg: Conn, tenants: Tenants) -> None:
    new_hash = key_hash("llk_rotated")
    rotated = call_sql(
        pg,
        "rotate_api_key",
        p_api_key_id=tenants.a_member_key,
        p_new_key_hash=new_hash,
        p_organization_id=tenants.a,
        p_acting_user_id=tenants.a_owner,
    )
    assert rotated == {
        "success": True,
        "api_key_id": rotated["api_key_id"],
        "replaced_api_key_id": tenants.a_member_key,
        "user_id": tenants.a_member,
        "organization_id": tenants.a,
        "name": "default",
    }
    assert authenticated(pg, tenants.a_member_hash) == []
    assert authenticated(pg, new_hash) == [(tenants.a_member, tenants.a, "member", rotated["api_key_id"])]
    old, new = (
        one(pg, "SELECT * FROM api_keys WHERE id = %s", k)
        for k in (tenants.a_member_key, rotated["api_key_id"])
    )
    assert old["revoked_at"] is not None
    assert new["revoked_at"] is None
    assert (new["name"], new["user_id"], new["organization_id"]) == (
        old["name"],
        old["user_id"],
        old["organization_id"],
    )
    # A revoked key is not rotated again: its replacement is the live one.
    assert_failed(
        pg,
        "rotate_api_key",
        code="P0001",
        error="The API key is revoked; create a new one",
        p_api_key_id=tenants.a_member_key,
        p_new_key_hash=key_hash("llk_again"),
    )


def test_rotate_is_all_or_nothing(pg: Conn, tenants: Tenants) -> None:
    """A new key that cannot be stored (its hash is taken) leaves the old key live."""
    taken = value(pg, "SELECT key_hash FROM api_keys WHERE id = %s", tenants.a_owner_key)
    assert_failed(
        pg,
        "rotate_api_key",
        code="23505",
        error="Duplicate record detected",
        p_api_key_id=tenants.a_member_key,
        p_new_key_hash=taken,
    )
    assert len(authenticated(pg, tenants.a_member_hash)) == 1


@pytest.mark.parametrize(
    ("params", "code", "error"),
    [
        ({"p_new_key_hash": "short"}, "22023", "p_new_key_hash: must be a hex SHA-256 digest"),
        ({"p_new_key_hash": None}, "22023", "p_new_key_hash: must be a hex SHA-256 digest"),
        ({"p_api_key_id": UNKNOWN_ID}, "23503", "API key not found"),
        ({"p_organization_id": "<b>"}, "23503", "API key not found"),
        (
            {"p_acting_user_id": "<a member>"},
            "42501",
            "Not allowed: only an admin or owner of the organization may do this",
        ),
        (
            {"p_acting_user_id": "<b owner>"},
            "42501",
            "Not allowed: only an admin or owner of the organization may do this",
        ),
    ],
)
def test_rotate_api_key_refused(
    shared: Conn, shared_tenants: Tenants, params: dict[str, Any], code: str, error: str
) -> None:
    t = shared_tenants
    names = {"<b>": t.b, "<a member>": t.a_member, "<b owner>": t.b_owner}
    full = {"p_api_key_id": t.a_member_key, "p_new_key_hash": "ef" * 32, **params}
    assert_failed(
        shared, "rotate_api_key", code=code, error=error, **{k: names.get(v, v) for k, v in full.items()}
    )
    if "<b>" in params.values() or "<b owner>" in params.values():
        LEDGER.record("sql", f"rotate_api_key {params}", False)


def test_concurrent_rotations_of_one_key_make_one_replacement(
    db_url: str, pg: Conn, tenants: Tenants
) -> None:
    """The key row is locked first: of N rotations at once, one replaces the key, the others
    find it revoked; never two live replacements."""
    n = 8
    barrier = threading.Barrier(n)

    def rotate(i: int) -> dict[str, Any]:
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait()
            return call_sql(
                c,
                "rotate_api_key",
                p_api_key_id=tenants.a_member_key,
                p_new_key_hash=key_hash(f"llk_race_{i}"),
            )

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(rotate, range(n)))
    assert sum(r["success"] for r in results) == 1, results
    for r in results:
        if not r["success"]:
            check_failure(r, "P0001", "The API key is revoked; create a new one")
    live = value(
        pg, "SELECT count(*) FROM api_keys WHERE user_id = %s AND revoked_at IS NULL", tenants.a_member
    )
    assert live == 1


# ---------------------------------------------------------------------------------------------
# As end users (PostgREST with a Supabase JWT): own organization only
# ---------------------------------------------------------------------------------------------


def test_end_user_admin_manages_his_organizations_keys(pg: Conn, tenants: Tenants) -> None:
    t = tenants
    with end_users(pg) as users:
        admin = claims(t.a_admin, t.a)
        created = users.call(admin, "create_api_key", p_user_id=t.a_member, p_key_hash=key_hash("llk_eu"))
        assert (created["success"], created["organization_id"]) == (True, t.a)
        listed = users.fetch(admin, "list_api_keys", p_organization_id=t.a)
        assert str(created["api_key_id"]) in {str(k["api_key_id"]) for k in listed}
        rotated = users.call(
            admin, "rotate_api_key", p_api_key_id=created["api_key_id"], p_new_key_hash=key_hash("llk_eu2")
        )
        assert rotated["success"] is True, rotated
        revoked = users.call(admin, "revoke_api_key", p_api_key_id=rotated["api_key_id"])
        assert revoked["success"] is True, revoked
        # A member may do none of it, whatever acting user he names.
        member = claims(t.a_member, t.a)
        for result in (
            users.call(
                member,
                "create_api_key",
                p_user_id=t.a_member,
                p_key_hash=key_hash("m"),
                p_acting_user_id=t.a_owner,
            ),
            users.call(member, "revoke_api_key", p_api_key_id=t.a_owner_key, p_acting_user_id=t.a_owner),
            users.call(
                member,
                "rotate_api_key",
                p_api_key_id=t.a_owner_key,
                p_new_key_hash=key_hash("m2"),
                p_acting_user_id=t.a_owner,
            ),
        ):
            check_failure(result, "42501")
        assert users.error(
            member, "list_api_keys", p_organization_id=t.a, p_acting_user_id=t.a_owner
        ).sqlstate == ("42501")


def test_provisioning_users_and_authenticating_keys_are_the_services(pg: Conn, tenants: Tenants) -> None:
    """create_app_user and authenticate_api_key are not granted to end users (one who could call
    them could join any organization as its owner, or test keys), and refuse them anyway when
    a grant was added by mistake."""
    owner = claims(tenants.a_owner, tenants.a)
    join = {"p_email": "eu@example.com", "p_organization_id": tenants.b, "p_role": "owner"}
    with end_users(pg) as users:
        for function, params in (
            ("create_app_user", join),
            ("authenticate_api_key", {"p_key_hash": "ab" * 32}),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), users.acting(owner) as c:
                fetch_sql(c, function, **params)
        for function in ("create_app_user(text, text, uuid, uuid, text)", "authenticate_api_key(text)"):
            pg.execute(f"GRANT EXECUTE ON FUNCTION public.{function} TO {users.role}")
        before = state(pg)
        joined = users.call(owner, "create_app_user", **join)
        LEDGER.record("sql", "create_app_user into B, every function granted", joined["success"] is not False)
        check_failure(joined, "42501", "Not allowed: only the service creates users")
        error = users.error(owner, "authenticate_api_key", p_key_hash=tenants.a_member_hash)
        assert error.sqlstate == "42501"
        assert state(pg) == before


def test_end_user_of_another_organization_reaches_no_key(pg: Conn, tenants: Tenants) -> None:
    """B's owner, with a valid JWT for B, on A's keys: not found, as keys that do not exist, and
    nothing written; the same with a JWT naming A (he is not a member), without claims, and
    for a member who left. Each attempt is counted (tests/tenants.py)."""
    t = tenants
    a_key_hash = value(pg, "SELECT key_hash FROM api_keys WHERE id = %s", t.a_owner_key)
    before = state(pg)
    b_owner = claims(t.b_owner, t.b)
    not_a_member = claims(t.b_owner, t.a)  # a JWT naming an organization he is not in
    in_metadata = {"sub": t.b_owner, "role": "authenticated", "app_metadata": {"organization_id": t.a}}
    user_metadata = {"sub": t.a_owner, "role": "authenticated", "user_metadata": {"organization_id": t.a}}
    no_user = {"role": "authenticated", "organization_id": t.a}
    attempts: list[tuple[str, dict[str, Any] | None, str, dict[str, Any], str, str]] = [
        # (what, claims, function, params, code, error)
        (
            "revoke A's key in B",
            b_owner,
            "revoke_api_key",
            {"p_api_key_id": t.a_owner_key},
            "23503",
            "API key not found",
        ),
        (
            "revoke A's key naming A",
            b_owner,
            "revoke_api_key",
            {"p_api_key_id": t.a_owner_key, "p_organization_id": t.a},
            "23503",
            "Organization not found",
        ),
        (
            "rotate A's key in B",
            b_owner,
            "rotate_api_key",
            {"p_api_key_id": t.a_owner_key, "p_new_key_hash": key_hash("x")},
            "23503",
            "API key not found",
        ),
        (
            "rotate A's key naming A",
            b_owner,
            "rotate_api_key",
            {"p_api_key_id": t.a_owner_key, "p_new_key_hash": key_hash("x"), "p_organization_id": t.a},
            "23503",
            "Organization not found",
        ),
        (
            "key for A's member in B",
            b_owner,
            "create_api_key",
            {"p_user_id": t.a_member, "p_key_hash": key_hash("y")},
            "23503",
            "Member not found",
        ),
        (
            "key for himself naming A",
            b_owner,
            "create_api_key",
            {"p_user_id": t.b_owner, "p_key_hash": key_hash("y"), "p_organization_id": t.a},
            "23503",
            "Organization not found",
        ),
        (
            "key with a re-used hash",
            b_owner,
            "create_api_key",
            {"p_user_id": t.b_owner, "p_key_hash": a_key_hash},
            "23505",
            "Duplicate record detected",
        ),
    ]
    for token in (not_a_member, in_metadata, user_metadata, no_user, None, {"role": "authenticated"}):
        attempts += [
            ("revoke as a non-member", token, "revoke_api_key", {"p_api_key_id": t.a_owner_key}, "42501", ""),
            (
                "rotate as a non-member",
                token,
                "rotate_api_key",
                {"p_api_key_id": t.a_owner_key, "p_new_key_hash": key_hash("z")},
                "42501",
                "",
            ),
            (
                "create as a non-member",
                token,
                "create_api_key",
                {"p_user_id": t.b_owner, "p_key_hash": key_hash("z"), "p_organization_id": t.a},
                "42501",
                "",
            ),
        ]
    with end_users(pg) as users:
        for what, token, function, params, code, error in attempts:
            result = users.call(token, function, **params)
            leaked = result["success"] is not False or result["error_code"] != code
            LEDGER.record("sql", f"{function}: {what} ({token})", leaked)
            check_failure(result, code, error or None)
            if code == "42501":
                assert result["error"].startswith("Not allowed"), result
        for token in (b_owner, not_a_member, in_metadata, no_user, None):
            error = users.error(token, "list_api_keys", p_organization_id=t.a)
            LEDGER.record("sql", f"list_api_keys of A ({token})", error.sqlstate not in ("23503", "42501"))
            assert error.sqlstate == ("23503" if token is b_owner else "42501")
        # B's own list has only B's key.
        listed = users.fetch(b_owner, "list_api_keys", p_organization_id=None)
        LEDGER.record(
            "sql", "list_api_keys of his own", {str(k["api_key_id"]) for k in listed} != {t.b_owner_key}
        )
        assert [str(k["api_key_id"]) for k in listed] == [t.b_owner_key]
        assert state(pg) == before
    assert len(authenticated(pg, a_key_hash)) == 1
