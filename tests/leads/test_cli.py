"""``leadledger users / leads / whatsapp`` as a user runs them (``users``: leadledger.orgs.cli)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg

from tests.helpers import scalar
from tests.test_cli import run


def create_user(db_url: str) -> tuple[str, str]:
    result = run("users", "create", "--email", "owner@clinic.example", "--name", "Clinic", url=db_url)
    assert result.returncode == 0, result.stderr
    user = re.search(r"user ([0-9a-f-]{36})", result.stdout)
    key = re.search(r"(llk_\S+)", result.stdout)
    assert user
    assert key
    return user.group(1), key.group(1)


def test_users_create_import_list_link(db_url: str, conn: psycopg.Connection[Any], tmp_path: Path) -> None:
    user_id, key = create_user(db_url)
    digest = scalar(conn, "SELECT key_hash FROM api_keys")
    assert key not in digest  # only the hash is stored
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(
        "customer_phone,customer_name,type,details\n"
        "+1 512 555 0100,Ana Ruiz,quote,Roof\n"
        "(512) 555-0101,Bo Chen,booking,\n"
        "+44 20 7946 0958,Cy Jones,inquiry,from the UK\n"
    )
    imported = run("leads", "import", str(csv_file), "--user", user_id, url=db_url)
    assert imported.returncode == 0, imported.stderr
    assert "imported 3 leads" in imported.stdout
    assert scalar(conn, "SELECT count(*) FROM conversations") == 3
    listed = run("leads", "list", "--user", user_id, url=db_url)
    assert "Ana Ruiz" in listed.stdout
    assert "+442079460958" in listed.stdout
    organization = scalar(
        conn, "SELECT organization_id::text FROM organization_members WHERE user_id = %s", user_id
    )
    in_org = run("leads", "list", "--user", user_id, "--org", organization, url=db_url)
    assert "Ana Ruiz" in in_org.stdout
    linked = run("whatsapp", "link", "--user", user_id, "--phone-number-id", "100200300400", url=db_url)
    assert linked.returncode == 0, linked.stderr
    assert organization in linked.stdout.replace("\n", "")
    assert scalar(conn, "SELECT user_id::text FROM whatsapp_numbers") == user_id
    assert scalar(conn, "SELECT organization_id::text FROM whatsapp_numbers") == organization
    # --org and --token-env: the number's access token is read from that variable, never stored
    again = run(
        "whatsapp", "link", "--user", user_id, "--org", organization, "--phone-number-id", "100200300400",
        "--token-env", "CLINIC_WA_TOKEN", url=db_url,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert scalar(conn, "SELECT access_token_ref FROM whatsapp_numbers") == "env:CLINIC_WA_TOKEN"
    listed_numbers = run("whatsapp", "list", "--org", organization, url=db_url)
    assert "100200300400" in listed_numbers.stdout
    assert "env:CLINIC_WA_TOKEN" in listed_numbers.stdout
    bad = run(
        "whatsapp", "link", "--user", user_id, "--phone-number-id", "100200300400",
        "--token-env", "not a name", url=db_url,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "p_access_token_ref" in bad.stderr
    # another organization may not take the number
    other = scalar(conn, "SELECT id::text FROM organizations WHERE is_default")
    taken = run(
        "whatsapp", "link", "--user", user_id, "--org", other, "--phone-number-id", "100200300400", url=db_url
    )
    assert taken.returncode != 0
    assert scalar(conn, "SELECT organization_id::text FROM whatsapp_numbers") == organization


def test_bad_import_names_every_bad_line_and_writes_nothing(
    db_url: str, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    user_id, _key = create_user(db_url)
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(
        "customer_phone,customer_name,type\n+15125550100,Ana,quote\nnot-a-phone,Bo,quote\n+15125550102,Cy,spam\n"
    )
    result = run("leads", "import", str(csv_file), "--user", user_id, url=db_url)
    assert result.returncode == 2
    assert "line 3: customer_phone" in result.stderr
    assert "line 4: lead_type" in result.stderr
    assert "Traceback" not in result.stderr
    assert scalar(conn, "SELECT count(*) FROM leads") == 0
    missing = run("leads", "import", str(tmp_path / "nope.csv"), "--user", user_id, url=db_url)
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
