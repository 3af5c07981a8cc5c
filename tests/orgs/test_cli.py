"""``leadledger orgs / keys / users`` as an operator runs them: subprocesses, exit statuses, output."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from tests.helpers import scalar
from tests.test_cli import run

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def ok(*args: str, url: str) -> str:
    result = run(*args, url=url)
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(*args: str, url: str) -> str:
    """One line on stderr, exit status 2, no traceback."""
    result = run(*args, url=url)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_organizations_members_and_keys(db_url: str, conn: psycopg.Connection[Any]) -> None:
    created = ok("users", "create", "--email", "ana@acme.example", "--name", "Ana", url=db_url)
    ana = re.search(rf"user ({UUID_RE})", created)
    own = re.search(rf"owner of organization ({UUID_RE})", created)
    key = re.search(r"^(llk_\S+)$", created, re.MULTILINE)
    assert ana, created
    assert own, created
    assert key, created
    assert key.group(1) not in str(scalar(conn, "SELECT array_agg(key_hash) FROM api_keys"))

    organization = ok("orgs", "create", "--name", "Acme Roofing", "--owner", ana.group(1), url=db_url)
    acme = organization.strip().splitlines()[-1]  # the id alone, last, for scripts
    assert re.fullmatch(UUID_RE, acme)
    assert "Acme Roofing" in organization

    bo = ok("users", "create", "--email", "bo@acme.example", "--org", acme, "--role", "admin", url=db_url)
    bo_id = re.search(rf"user ({UUID_RE})", bo)
    assert bo_id
    assert f"admin of organization {acme}" in bo

    members = ok("orgs", "members", acme, url=db_url)
    assert "ana@acme.example" in members
    assert "bo@acme.example" in members
    assert members.index("owner") < members.index("admin")

    listed = ok("orgs", "list", url=db_url)
    assert "Acme Roofing" in listed
    assert "Default organization" in listed
    mine = ok("orgs", "list", "--user", ana.group(1), url=db_url)
    assert "Acme Roofing" in mine
    assert "owner" in mine
    assert "Default organization" not in mine

    changed = ok("orgs", "add-member", acme, "--user", bo_id.group(1), "--role", "member", url=db_url)
    assert f"is member of organization {acme} (was admin)" in changed
    assert "keeps at least one owner" in refused(
        "orgs", "add-member", acme, "--user", ana.group(1), "--role", "member", url=db_url
    )
    assert (
        "invalid value for '--role'"
        in run(
            "orgs", "add-member", acme, "--user", bo_id.group(1), "--role", "boss", url=db_url
        ).stderr.lower()
    )

    # Keys: Ana has two organizations now, so a key names one.
    assert "is required: the user belongs to 2 organizations" in refused(
        "keys", "create", "--user", ana.group(1), url=db_url
    )
    made = ok("keys", "create", "--user", ana.group(1), "--org", acme, "--name", "ci", url=db_url)
    key_id = re.search(rf"API key ({UUID_RE})", made)
    new_key = made.strip().splitlines()[-1]
    assert key_id
    assert new_key.startswith("llk_")
    keys = ok("keys", "list", "--org", acme, url=db_url)
    assert key_id.group(1) in keys
    assert "ci" in keys
    assert new_key not in keys

    rotated = ok("keys", "rotate", key_id.group(1), url=db_url)
    replacement = re.search(rf"API key ({UUID_RE}) \(shown once", rotated)
    assert replacement
    assert replacement.group(1) != key_id.group(1)
    assert f"revoked API key {key_id.group(1)}" in rotated
    assert rotated.strip().splitlines()[-1].startswith("llk_")
    assert "The API key is revoked" in refused("keys", "rotate", key_id.group(1), url=db_url)
    assert f"revoked API key {replacement.group(1)}" in ok("keys", "revoke", replacement.group(1), url=db_url)
    assert "was already revoked" in ok("keys", "revoke", replacement.group(1), url=db_url)
    assert "API key not found" in refused(
        "keys", "revoke", "00000000-0000-4000-8000-000000000000", url=db_url
    )
    live = "SELECT count(*) FROM api_keys WHERE organization_id = %s AND revoked_at IS NULL"
    assert scalar(conn, live, acme) == 1  # Bo's, from `users create --org`

    # users api-key prints only the key.
    only = ok("users", "api-key", "--user", bo_id.group(1), "--name", "script", url=db_url)
    assert re.fullmatch(r"llk_\S+\n", only)

    removed = ok("orgs", "remove-member", acme, "--user", bo_id.group(1), url=db_url)
    assert "API keys revoked: 2" in removed
    assert scalar(conn, live, acme) == 0
    assert "Member not found" in refused("orgs", "remove-member", acme, "--user", bo_id.group(1), url=db_url)
    assert "keeps at least one owner" in refused(
        "orgs", "remove-member", acme, "--user", ana.group(1), url=db_url
    )


def test_bad_input_is_one_line(db_url: str) -> None:
    assert "p_name: must be 1 to 200 characters" in refused("orgs", "create", "--name", " ", url=db_url)
    assert "User not found" in refused(
        "orgs", "create", "--name", "X", "--owner", "00000000-0000-4000-8000-000000000000", url=db_url
    )
    assert "Organization not found" in refused(
        "orgs", "members", "00000000-0000-4000-8000-000000000000", url=db_url
    )
    assert "p_email: must be an email address" in refused("users", "create", "--email", "nope", url=db_url)
