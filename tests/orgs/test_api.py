"""The organizations HTTP API: /api/orgs (the caller's organization, his organizations, its
members) and /api/keys (admins: list, create, revoke, rotate), against a real database.

Cross-tenant attempts (a member of organization B on A's members and keys; revoked keys, expired
or non-member JWTs, no credentials) are counted with LEDGER.record("http", ...)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from leadledger.api import create_app
from leadledger.db import Database
from leadledger.orgs.client import OrgsClient
from leadledger.orgs.models import Role
from tests.conftest import make_settings
from tests.helpers import tables_state
from tests.tenants import LEDGER, Member, new_member

JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"


@dataclass
class Env:
    api: TestClient
    a_owner: Member
    a_admin: Member
    a_member: Member
    b_owner: Member
    b_member: Member


@pytest.fixture
def env(db_url: str, database: Database) -> Iterator[Env]:
    """Organization A (owner, admin, member) and B (owner, member), each with an API key."""
    a_owner = new_member(database, "owner-a@example.com", "Ann Owner")
    a_admin = new_member(
        database, "admin-a@example.com", organization_id=a_owner.organization_id, role=Role.ADMIN
    )
    a_member = new_member(database, "member-a@example.com", organization_id=a_owner.organization_id)
    b_owner = new_member(database, "owner-b@example.com", "Bob Owner")
    b_member = new_member(database, "member-b@example.com", organization_id=b_owner.organization_id)
    settings = make_settings(db_url, jwt_secret=SecretStr(JWT_SECRET))
    with TestClient(create_app(settings, database_url=db_url)) as api:
        yield Env(api, a_owner, a_admin, a_member, b_owner, b_member)


def token_for(user_id: UUID, organization_id: UUID | None, **claims: Any) -> dict[str, str]:
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "aud": "authenticated",
        "role": "authenticated",
        "exp": int(time.time()) + 600,
    }
    if organization_id is not None:
        payload["organization_id"] = str(organization_id)
    payload.update(claims)
    return {"Authorization": f"Bearer {jwt.encode(payload, JWT_SECRET, algorithm='HS256')}"}


def org_state(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    """Every row of the organizations domain; of API keys, all but last_used_at (which every
    authenticated request may write)."""
    keys = conn.execute(
        "SELECT md5(string_agg((id, user_id, organization_id, key_hash, name, created_at, revoked_at)::text,"
        " '|' ORDER BY id)) FROM api_keys"
    ).fetchone()
    return tables_state(conn, ("organizations", "organization_members", "app_users")), keys


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


# -- /api/orgs ------------------------------------------------------------------------------------


def test_current_organization_and_list(env: Env, database: Database) -> None:
    current = env.api.get("/api/orgs/current", headers=env.a_member.auth)
    assert current.status_code == 200, current.text
    body = current.json()
    assert (body["organization_id"], body["name"], body["role"], body["members"], body["is_default"]) == (
        str(env.a_owner.organization_id),
        "Ann Owner",
        "member",
        3,
        False,
    )
    # A user of two organizations lists both, one page at a time; his key acts in one.
    OrgsClient(database).set_member(env.b_owner.organization_id, env.a_member.user_id, Role.ADMIN)
    first = env.api.get("/api/orgs", headers=env.a_member.auth, params={"limit": 1}).json()
    assert [o["organization_id"] for o in first["items"]] == [str(env.a_owner.organization_id)]
    assert first["next_cursor"]
    second = env.api.get(
        "/api/orgs", headers=env.a_member.auth, params={"limit": 1, "cursor": first["next_cursor"]}
    )
    assert [(o["organization_id"], o["role"]) for o in second.json()["items"]] == [
        (str(env.b_owner.organization_id), "admin")
    ]
    assert second.json()["next_cursor"] is None
    assert env.api.get("/api/orgs/current", headers=env.a_member.auth).json()["role"] == "member"
    # A JWT names which one: the same user is an admin there.
    as_b = env.api.get(
        "/api/orgs/current", headers=token_for(env.a_member.user_id, env.b_owner.organization_id)
    )
    assert (as_b.json()["organization_id"], as_b.json()["role"]) == (
        str(env.b_owner.organization_id),
        "admin",
    )
    hook = token_for(
        env.a_member.user_id, None, app_metadata={"organization_id": str(env.b_owner.organization_id)}
    )
    assert env.api.get("/api/orgs/current", headers=hook).json()["organization_id"] == str(
        env.b_owner.organization_id
    )


def test_members_any_member_reads_them_page_by_page(env: Env) -> None:
    first = env.api.get("/api/orgs/current/members", headers=env.a_member.auth, params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [(m["email"], m["role"]) for m in page["items"]] == [
        ("owner-a@example.com", "owner"),
        ("admin-a@example.com", "admin"),
    ]
    rest = env.api.get(
        "/api/orgs/current/members",
        headers=env.a_member.auth,
        params={"limit": 2, "cursor": page["next_cursor"]},
    ).json()
    assert ([m["email"] for m in rest["items"]], rest["next_cursor"]) == (["member-a@example.com"], None)
    bad = env.api.get("/api/orgs/current/members", headers=env.a_member.auth, params={"cursor": "nonsense"})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "query.cursor")


def test_set_member_roles(env: Env, conn: psycopg.Connection[Any]) -> None:
    path = f"/api/orgs/current/members/{env.b_member.user_id}"  # a user of B joins A
    before = org_state(conn)
    refused = env.api.put(path, headers=env.a_member.auth, json={"role": "member"})
    assert (refused.status_code, refused.json()["error_code"]) == (403, "forbidden")  # members manage no one
    refused = env.api.put(path, headers=env.a_admin.auth, json={"role": "admin"})
    assert refused.status_code == 403  # admins make no admins: the function refuses (42501)
    assert refused.json() == {
        "error": "Not allowed: only an owner of the organization may do this",
        "error_code": "42501",
    }
    assert env.api.put(path, headers=env.a_admin.auth, json={"role": "boss"}).json()["errors"][0][
        "field"
    ] == ("body.role")
    assert (
        env.api.put(
            path, headers=env.a_admin.auth, json={"role": "member", "organization_id": str(uuid4())}
        ).status_code
        == 422
    )  # the organization is the caller's, never the body's
    assert org_state(conn) == before

    added = env.api.put(path, headers=env.a_admin.auth, json={})
    assert added.status_code == 200, added.text
    assert added.json() == {
        "success": True,  # the function's envelope, as every route answers it
        "organization_id": str(env.a_owner.organization_id),
        "user_id": str(env.b_member.user_id),
        "role": "member",
        "previous_role": None,
    }
    promoted = env.api.put(path, headers=env.a_owner.auth, json={"role": "owner"})
    assert (promoted.status_code, promoted.json()["previous_role"]) == (200, "member")
    # Two owners: the first steps down, then the second is the last.
    own = f"/api/orgs/current/members/{env.a_owner.user_id}"
    assert env.api.put(own, headers=env.a_owner.auth, json={"role": "admin"}).status_code == 200
    last = env.api.put(path, headers=env.a_owner.auth, json={"role": "member"})
    assert last.status_code == 403  # the former owner is an admin now
    stays = env.api.put(
        path, headers=token_for(env.b_member.user_id, env.a_owner.organization_id), json={"role": "member"}
    )
    assert (stays.status_code, stays.json()["error"]) == (409, "An organization keeps at least one owner")
    unknown = env.api.put(f"/api/orgs/current/members/{uuid4()}", headers=env.a_owner.auth, json={})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "User not found")


def test_remove_member_and_his_key_is_refused_at_once(env: Env) -> None:
    assert env.api.get("/api/orgs/current", headers=env.a_member.auth).status_code == 200
    refused = env.api.delete(f"/api/orgs/current/members/{env.a_admin.user_id}", headers=env.a_admin.auth)
    assert refused.status_code == 403  # an admin removes members only (himself included: he is an admin)
    removed = env.api.delete(f"/api/orgs/current/members/{env.a_member.user_id}", headers=env.a_admin.auth)
    assert removed.status_code == 200, removed.text
    assert (removed.json()["role"], removed.json()["keys_revoked"]) == ("member", 1)
    gone = env.api.get("/api/orgs/current", headers=env.a_member.auth)
    assert (gone.status_code, gone.json()["error_code"]) == (401, "unauthorized")
    again = env.api.delete(f"/api/orgs/current/members/{env.a_member.user_id}", headers=env.a_admin.auth)
    assert (again.status_code, again.json()["error"]) == (404, "Member not found")
    last = env.api.delete(f"/api/orgs/current/members/{env.a_owner.user_id}", headers=env.a_owner.auth)
    assert (last.status_code, last.json()["error"]) == (409, "An organization keeps at least one owner")


# -- /api/keys --------------------------------------------------------------------------------------


def test_keys_are_for_admins(env: Env, conn: psycopg.Connection[Any]) -> None:
    before = org_state(conn)
    for method, path in (
        ("GET", "/api/keys"),
        ("POST", "/api/keys"),
        ("POST", f"/api/keys/{uuid4()}/revoke"),
        ("POST", f"/api/keys/{uuid4()}/rotate"),
    ):
        answer = env.api.request(
            method, path, headers=env.a_member.auth, json={} if method == "POST" else None
        )
        assert (answer.status_code, answer.json()["error_code"]) == (403, "forbidden"), (method, path)
        assert env.api.request(method, path).status_code == 401
    assert org_state(conn) == before


def test_create_list_revoke_rotate(env: Env, conn: psycopg.Connection[Any]) -> None:
    created = env.api.post("/api/keys", headers=env.a_admin.auth, json={"name": " ci "})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"api_key_id", "api_key", "user_id", "organization_id", "name", "replaced_api_key_id"}
    assert (body["user_id"], body["organization_id"], body["name"]) == (
        str(env.a_admin.user_id),
        str(env.a_owner.organization_id),
        "ci",
    )
    assert body["api_key"].startswith("llk_")
    assert body["api_key"] not in str(conn.execute("SELECT array_agg(key_hash) FROM api_keys").fetchone())
    ci = key_header(body["api_key"])
    assert env.api.get("/api/orgs/current", headers=ci).json()["role"] == "admin"

    for_member = env.api.post(
        "/api/keys", headers=env.a_owner.auth, json={"user_id": str(env.a_member.user_id)}
    )
    assert for_member.status_code == 201, for_member.text
    assert env.api.get("/api/orgs/current", headers=key_header(for_member.json()["api_key"])).json()[
        "role"
    ] == ("member")

    listed = env.api.get("/api/keys", headers=env.a_admin.auth, params={"limit": 2}).json()
    assert [k["api_key_id"] for k in listed["items"]] == [for_member.json()["api_key_id"], body["api_key_id"]]
    assert "key_hash" not in listed["items"][0]
    rest = env.api.get("/api/keys", headers=env.a_admin.auth, params={"cursor": listed["next_cursor"]}).json()
    assert len(rest["items"]) == 3  # the fixture's keys of A's owner, admin and member
    assert rest["next_cursor"] is None

    rotated = env.api.post(f"/api/keys/{body['api_key_id']}/rotate", headers=env.a_admin.auth)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["replaced_api_key_id"] == body["api_key_id"]
    assert rotated.json()["name"] == "ci"
    assert env.api.get("/api/orgs/current", headers=ci).status_code == 401  # the old key, at once
    new = key_header(rotated.json()["api_key"])
    assert env.api.get("/api/orgs/current", headers=new).status_code == 200
    again = env.api.post(f"/api/keys/{body['api_key_id']}/rotate", headers=env.a_admin.auth)
    assert (again.status_code, again.json()["error"]) == (409, "The API key is revoked; create a new one")

    revoked = env.api.post(f"/api/keys/{rotated.json()['api_key_id']}/revoke", headers=env.a_admin.auth)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["already_revoked"] is False
    assert env.api.get("/api/orgs/current", headers=new).status_code == 401
    twice = env.api.post(f"/api/keys/{rotated.json()['api_key_id']}/revoke", headers=env.a_admin.auth)
    assert (twice.status_code, twice.json()["already_revoked"]) == (200, True)
    assert twice.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_an_admin_revoking_his_own_key_is_refused_from_the_next_request(env: Env) -> None:
    own = env.api.get("/api/keys", headers=env.a_admin.auth).json()["items"]
    mine = next(k for k in own if k["user_id"] == str(env.a_admin.user_id))
    assert env.api.post(f"/api/keys/{mine['api_key_id']}/revoke", headers=env.a_admin.auth).status_code == 200
    assert env.api.get("/api/keys", headers=env.a_admin.auth).status_code == 401


def test_last_used_at_is_kept(env: Env) -> None:
    env.api.get("/api/orgs/current", headers=env.a_member.auth)
    keys = env.api.get("/api/keys", headers=env.a_owner.auth).json()["items"]
    member_key = next(k for k in keys if k["user_id"] == str(env.a_member.user_id))
    assert member_key["last_used_at"] is not None


def test_a_jwt_admin_manages_keys(env: Env) -> None:
    admin = token_for(env.a_admin.user_id, env.a_owner.organization_id)
    created = env.api.post("/api/keys", headers=admin, json={"name": "from a jwt"})
    assert created.status_code == 201, created.text
    assert created.json()["organization_id"] == str(env.a_owner.organization_id)
    member = token_for(env.a_member.user_id, env.a_owner.organization_id)
    assert env.api.get("/api/keys", headers=member).status_code == 403


# -- cross-tenant ----------------------------------------------------------------------------------


def test_another_organization_reaches_nothing(env: Env, conn: psycopg.Connection[Any]) -> None:
    """B's owner (an admin of B: every route is open to him there) on A's members and keys by id,
    by listing and by cursor: 404 with the same body as an id that does not exist, or only B's
    rows; A's tables unchanged. Then every route with a revoked key, an expired JWT, a JWT of a
    non-member, a JWT naming no organization, and no credentials: 401."""
    revoked = new_member_key_revoked(env)
    a_page = env.api.get("/api/orgs/current/members", headers=env.a_member.auth, params={"limit": 1}).json()
    a_keys = [k["api_key_id"] for k in env.api.get("/api/keys", headers=env.a_owner.auth).json()["items"]]
    a_before = a_digest(conn, env.a_owner.organization_id)
    b = env.b_owner.auth
    missing = uuid4()

    def attempt(what: str, method: str, path: str, expected: int, **kwargs: Any) -> Any:
        answer = env.api.request(method, path, headers=b, **kwargs)
        LEDGER.record("http", f"{method} {path} ({what})", answer.status_code != expected)
        assert answer.status_code == expected, (what, answer.text)
        return answer.json()

    for key_id in a_keys:
        for action in ("revoke", "rotate"):
            theirs = attempt("A's key", "POST", f"/api/keys/{key_id}/{action}", 404)
            nobody = env.api.post(f"/api/keys/{missing}/{action}", headers=b).json()
            assert theirs == nobody == {"error": "API key not found", "error_code": "23503"}
    for user in (env.a_owner, env.a_admin, env.a_member):
        theirs = attempt("A's member", "DELETE", f"/api/orgs/current/members/{user.user_id}", 404)
        assert theirs == env.api.delete(f"/api/orgs/current/members/{missing}", headers=b).json()
        attempt("a key for A's member", "POST", "/api/keys", 404, json={"user_id": str(user.user_id)})
        attempt(
            "a key in A", "POST", "/api/keys", 422, json={"organization_id": str(env.a_owner.organization_id)}
        )
    listed = attempt("list keys", "GET", "/api/keys", 200, params={"limit": 500})
    assert {k["api_key_id"] for k in listed["items"]}.isdisjoint(a_keys)
    members = attempt("list members", "GET", "/api/orgs/current/members", 200)
    assert {m["user_id"] for m in members["items"]} == {str(env.b_owner.user_id), str(env.b_member.user_id)}
    organizations = attempt("list organizations", "GET", "/api/orgs", 200)
    assert [o["organization_id"] for o in organizations["items"]] == [str(env.b_owner.organization_id)]
    # A's member's cursor of A's member list, replayed by B: B's rows from that offset, never A's.
    replay = attempt(
        "A's cursor", "GET", "/api/orgs/current/members", 200, params={"cursor": a_page["next_cursor"]}
    )
    assert {m["user_id"] for m in replay["items"]} <= {str(env.b_owner.user_id), str(env.b_member.user_id)}
    # The organization to act in comes from the credentials: a JWT of B's owner naming A is refused.
    assert (
        env.api.get(
            "/api/keys", headers=token_for(env.b_owner.user_id, env.a_owner.organization_id)
        ).status_code
        == 401
    )

    expired = token_for(env.a_owner.user_id, env.a_owner.organization_id, exp=int(time.time()) - 10)
    non_member = token_for(env.b_owner.user_id, env.a_owner.organization_id)
    no_organization = token_for(env.a_owner.user_id, None)
    user_metadata = token_for(
        env.a_owner.user_id, None, user_metadata={"organization_id": str(env.a_owner.organization_id)}
    )
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/orgs", None),
        ("GET", "/api/orgs/current", None),
        ("GET", "/api/orgs/current/members", None),
        ("PUT", f"/api/orgs/current/members/{env.b_member.user_id}", {"role": "owner"}),
        ("DELETE", f"/api/orgs/current/members/{env.a_member.user_id}", None),
        ("GET", "/api/keys", None),
        ("POST", "/api/keys", {"name": "x"}),
        ("POST", f"/api/keys/{a_keys[0]}/revoke", None),
        ("POST", f"/api/keys/{a_keys[0]}/rotate", None),
    ]
    for credentials, headers in (
        ("revoked key", revoked),
        ("expired jwt", expired),
        ("jwt of a non-member", non_member),
        ("jwt without organization", no_organization),
        ("jwt with user_metadata only", user_metadata),
        ("nothing", {}),
        ("unknown key", key_header("llk_" + "x" * 43)),
    ):
        for method, path, body in routes:
            answer = env.api.request(method, path, headers=headers, json=body)
            LEDGER.record("http", f"{method} {path} ({credentials})", answer.status_code != 401)
            assert (answer.status_code, answer.json()["error_code"]) == (401, "unauthorized"), (
                credentials,
                path,
            )
    assert a_digest(conn, env.a_owner.organization_id) == a_before


def a_digest(conn: psycopg.Connection[Any], organization: UUID) -> tuple[Any, ...]:
    """A digest of an organization's row, members and keys (last_used_at aside: A's own requests
    write it)."""
    row = conn.execute(
        """SELECT (SELECT o::text FROM organizations o WHERE id = %(o)s),
                  (SELECT md5(string_agg(m::text, '|' ORDER BY m::text)) FROM organization_members m
                    WHERE organization_id = %(o)s),
                  (SELECT md5(string_agg((k.id, k.user_id, k.key_hash, k.name, k.created_at,
                                          k.revoked_at)::text, '|' ORDER BY k.id))
                     FROM api_keys k WHERE organization_id = %(o)s)""",
        {"o": organization},
    ).fetchone()
    assert row is not None
    return tuple(row)


def new_member_key_revoked(env: Env) -> dict[str, str]:
    """A key of A's owner, created and revoked: refused like any other."""
    created = env.api.post("/api/keys", headers=env.a_owner.auth, json={"name": "soon revoked"}).json()
    env.api.post(f"/api/keys/{created['api_key_id']}/revoke", headers=env.a_owner.auth)
    return key_header(created["api_key"])


def test_an_admin_cannot_obtain_an_owners_key(env: Env, conn: psycopg.Connection[Any]) -> None:
    """A key acts with its user's role: an admin may not mint, rotate (and so receive) or revoke
    an owner's key (403); the owner may."""
    keys = env.api.get("/api/keys", headers=env.a_owner.auth).json()["items"]
    owner_key = next(k["api_key_id"] for k in keys if k["user_id"] == str(env.a_owner.user_id))
    before = org_state(conn)
    for method, path, body in (
        ("POST", "/api/keys", {"user_id": str(env.a_owner.user_id)}),
        ("POST", f"/api/keys/{owner_key}/rotate", None),
        ("POST", f"/api/keys/{owner_key}/revoke", None),
    ):
        answer = env.api.request(method, path, headers=env.a_admin.auth, json=body)
        assert (answer.status_code, answer.json()["error"]) == (
            403,
            "Not allowed: only an owner of the organization may do this",
        ), path
    assert org_state(conn) == before
    minted = env.api.post("/api/keys", headers=env.a_owner.auth, json={"user_id": str(env.a_admin.user_id)})
    assert minted.status_code == 201
