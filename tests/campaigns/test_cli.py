"""``leadledger campaigns ...`` as a user runs it: subprocesses against a real database."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg

from leadledger.campaigns.importer import sample_dataset
from tests.helpers import scalar
from tests.test_cli import run


def test_create_import_stats_list_transition(
    db_url: str, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    created = run("campaigns", "create", "--name", "Austin dentists", "--zip", "78701", "--zip", "78702",
                  "--zip", "78704", "--keyword", "dentist", "--cost-per-zip", "0.8", url=db_url)  # fmt: skip
    assert created.returncode == 0, created.stderr
    campaign_id = created.stdout.strip().splitlines()[-1]
    assert scalar(conn, "SELECT estimated_cost FROM gmaps_campaigns WHERE id = %s", campaign_id) == Decimal(
        "2.4"
    )

    dataset = tmp_path / "dataset.json"
    dataset.write_text(json.dumps(sample_dataset()))
    imported = run(
        "campaigns", "import", str(dataset), "--campaign", campaign_id, "--batch-size", "5", url=db_url
    )
    assert imported.returncode == 0, imported.stderr
    assert "35 items in" in imported.stdout
    assert "30 new, 4 updated, 1 skipped" in imported.stdout
    assert scalar(conn, "SELECT count(*) FROM gmaps_businesses") == 30

    stats = run("campaigns", "stats", campaign_id, url=db_url)
    assert stats.returncode == 0, stats.stderr
    assert "businesses" in stats.stdout
    assert "30" in stats.stdout

    listed = run("campaigns", "list", url=db_url)
    assert "Austin dentists" in listed.stdout

    moved = run("campaigns", "transition", campaign_id, "running", "--reason", "go", url=db_url)
    assert moved.returncode == 0
    assert "draft -> running" in moved.stdout
    refused = run("campaigns", "transition", campaign_id, "draft", url=db_url)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: Invalid status transition from running to draft"


def test_cli_errors_are_one_line(db_url: str, conn: psycopg.Connection[Any], tmp_path: Path) -> None:
    bad_zip = run("campaigns", "create", "--name", "x", "--zip", "123", url=db_url)
    assert bad_zip.returncode == 2
    assert len(bad_zip.stderr.strip().splitlines()) == 1
    assert "zip_code" in bad_zip.stderr
    missing = run("campaigns", "import", str(tmp_path / "nope.json"), "--campaign",
                  "00000000-0000-0000-0000-000000000000", url=db_url)  # fmt: skip
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    dataset = tmp_path / "d.json"
    dataset.write_text(json.dumps(sample_dataset()[:2]))
    unknown = run("campaigns", "import", str(dataset), "--campaign", "00000000-0000-0000-0000-000000000000",
                  url=db_url)  # fmt: skip
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: Campaign not found"
    assert scalar(conn, "SELECT count(*) FROM gmaps_campaigns") == 0


def test_org_confines_every_command_to_one_organization(db_url: str, conn: psycopg.Connection[Any]) -> None:
    """``--org ID``: the service acting in that organization only; without it, across them (and a
    new campaign goes to the default organization)."""
    a = str(scalar(conn, "SELECT (create_organization('A') ->> 'organization_id')"))
    b = str(scalar(conn, "SELECT (create_organization('B') ->> 'organization_id')"))
    default = str(scalar(conn, "SELECT id FROM organizations WHERE is_default"))

    created = run("campaigns", "create", "--name", "A's", "--zip", "78701", "--org", a, url=db_url)
    assert created.returncode == 0, created.stderr
    in_a = created.stdout.strip().splitlines()[-1]
    assert str(scalar(conn, "SELECT organization_id FROM gmaps_campaigns WHERE id = %s", in_a)) == a
    anywhere = run("campaigns", "create", "--name", "Nobody's", "--zip", "78702", url=db_url)
    in_default = anywhere.stdout.strip().splitlines()[-1]
    assert (
        str(scalar(conn, "SELECT organization_id FROM gmaps_campaigns WHERE id = %s", in_default)) == default
    )

    assert "A's" in run("campaigns", "list", "--org", a, url=db_url).stdout
    assert "A's" not in run("campaigns", "list", "--org", b, url=db_url).stdout
    assert {"A's", "Nobody's"} <= set(run("campaigns", "list", url=db_url).stdout.split())  # across them

    before = scalar(conn, "SELECT md5(string_agg(c::text, '' ORDER BY id)) FROM gmaps_campaigns c")
    for command in (("stats", in_a), ("transition", in_a, "running")):
        refused = run("campaigns", *command, "--org", b, url=db_url)
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.strip() == "error: Campaign not found"
    unknown = run("campaigns", "create", "--name", "x", "--zip", "78701", "--org", str(uuid4()), url=db_url)
    assert unknown.stderr.strip() == "error: Organization not found"
    assert scalar(conn, "SELECT md5(string_agg(c::text, '' ORDER BY id)) FROM gmaps_campaigns c") == before
    assert run("campaigns", "transition", in_a, "running", "--org", a, url=db_url).returncode == 0
