"""What the organization checks of issue 10 cost a call: campaign functions before and after.

Four ways of calling the same four campaign functions on the same data, one client, rounds
interleaved (the order of the ways rotates each round):

* **before organizations**: a database migrated with the SQL of ``--baseline`` (default: the
  last commit before organizations, found by its subject), called by the service;
* **now, service**: the shipped SQL, called by the service (``leadledger.org_scope`` sees a
  member of ``leadledger_service`` and confines nothing: the default organization's rows);
* **now, end user**: the shipped SQL called as PostgREST calls it for a Supabase user: a role
  that is not the service, with ``request.jwt.claims`` naming a member of the organization, so
  ``org_scope`` checks the membership on every call;
* **first version, end user**: the same, on a database migrated with the SQL of
  ``--first-version`` (default: the commit before ``org_scope`` read the claims once).

Every call runs as PostgREST runs one: inside a transaction, after ``SET LOCAL ROLE`` and the
claims (the end user) or nothing (the service); only the function's statement is timed. Each
round is one transaction rolled back at its end (the end user's role is created in it: no role
outlives the run), so the writes of one round never load the next.

    python -m bench.tenancy_overhead [--baseline REV] [--first-version REV]
    # BENCH_DATABASE_URL=... for another server
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from bench.campaigns_common import campaign_database, create_campaign, pooled, print_table, sql_fingerprint
from bench.common import (
    commit_before,
    current_at,
    git,
    migrated_database,
    migrations_at,
    server_label,
    server_url,
)
from leadledger.db.migrations import MIGRATION_PACKAGES, MigrationRunner
from leadledger.orgs.client import OrgsClient

ROUNDS = 30
CALLS = 20  # per function, way and round
CAMPAIGNS = 100
ORGANIZATIONS_SUBJECT = "Organizations (issue 10), foundation"
CHEAPER_SUBJECT = "Tenancy checks cheaper: org_scope reads the claims once"
WAYS = ("before organizations", "now, service", "now, end user", "first version, end user")

#: The function, how it is called (named arguments both versions take), and the regprocedure the
#: end user is granted.
FUNCTIONS: dict[str, tuple[str, str]] = {
    "track_campaign_cost": (
        "SELECT public.track_campaign_cost(p_campaign_id => %(campaign)s, p_service => 'google_maps',"
        " p_items_processed => 10, p_cost_usd => 0.01)",
        "public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, uuid)",
    ),
    "transition_campaign_status": (
        "SELECT public.transition_campaign_status(p_campaign_id => %(campaign)s, p_new_status => %(status)s)",
        "public.transition_campaign_status(uuid, varchar, text, uuid)",
    ),
    "get_campaign_overview": (
        "SELECT public.get_campaign_overview(p_campaign_id => %(campaign)s)",
        "public.get_campaign_overview(uuid, uuid)",
    ),
    "list_campaigns": (
        "SELECT count(*) FROM public.list_campaigns(p_limit => 50)",
        "public.list_campaigns(integer, timestamptz, uuid, varchar, uuid)",
    ),
}


def claims(user: uuid.UUID, organization: uuid.UUID) -> dict[str, str]:
    """A Supabase user's JWT claims naming his organization (docs/decisions.md D48)."""
    return {"role": "authenticated", "sub": str(user), "organization_id": str(organization)}


def prepared(db_url: str, *, end_user: bool) -> tuple[uuid.UUID, tuple[uuid.UUID, uuid.UUID] | None]:
    """The same data in either database: CAMPAIGNS campaigns of 10 ZIPs, the measured one
    running. Returns it, and (now) a member of its organization for the end user."""
    with pooled(db_url, 1) as db:
        campaigns = [create_campaign(db, f"campaign {i}", zips=10) for i in range(CAMPAIGNS)]
        measured = campaigns[0]
        envelope = db.call("transition_campaign_status", p_campaign_id=measured, p_new_status="running")
        assert envelope["success"], envelope
        if not end_user:
            return measured, None
        with psycopg.connect(db_url) as conn:
            row = conn.execute(
                "SELECT organization_id FROM public.gmaps_campaigns WHERE id = %s", (measured,)
            ).fetchone()
        assert row is not None
        user = OrgsClient(db).create_user(f"bench-{uuid.uuid4().hex[:8]}@example.com", "Bench", row[0])
        return measured, (user.user_id, row[0])


class Way:
    """One way of calling: a connection, and (for the end user) the role and claims to take."""

    def __init__(
        self, db_url: str, campaign: uuid.UUID, member: tuple[uuid.UUID, uuid.UUID] | None = None
    ) -> None:
        self.conn = psycopg.connect(db_url)
        self.campaign = campaign
        self.member = member  # (user, organization)
        self.role = f"llbench_end_user_{uuid.uuid4().hex[:8]}"
        self.samples: dict[str, list[float]] = {name: [] for name in FUNCTIONS}

    def round(self) -> None:
        with self.conn.transaction(force_rollback=True):
            if self.member is not None:
                self.conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(self.role)))
                for _, signature in FUNCTIONS.values():
                    self.conn.execute(
                        sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                            sql.SQL(signature), sql.Identifier(self.role)
                        )
                    )
            for name, (statement, _) in FUNCTIONS.items():
                for call in range(CALLS):
                    params = {"campaign": self.campaign, "status": "paused" if call % 2 == 0 else "running"}
                    self.samples[name].append(self.timed_call(statement, params))

    def timed_call(self, statement: str, params: dict[str, Any]) -> float:
        with self.conn.transaction():
            if self.member is not None:
                self.conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self.role)))
                self.conn.execute(
                    "SELECT set_config('request.jwt.claims', %s, true)",
                    (json.dumps(claims(*self.member)),),
                )
            started = time.perf_counter()
            row = self.conn.execute(statement, params).fetchone()
            elapsed = time.perf_counter() - started
            assert row is not None
            if isinstance(row[0], dict):
                assert row[0].get("success", True), row[0]
            else:
                assert row[0] > 0  # a page of campaigns: the end user sees his organization's
            if self.member is not None:
                self.conn.execute("RESET ROLE")
        return elapsed


@contextmanager
def database_at(url: str, revision: str) -> Iterator[str]:
    """A fresh database with the SQL of ``revision`` (its migrations and current-state files)."""
    with migrated_database(url, migrate=False) as db_url:
        with psycopg.connect(db_url, autocommit=True) as conn:
            MigrationRunner(
                conn,
                migrations_at(revision, MIGRATION_PACKAGES),
                current=current_at(revision, MIGRATION_PACKAGES),
            ).upgrade()
        yield db_url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision before organizations (default: found by subject)")
    parser.add_argument(
        "--first-version", help="git revision of the first tenancy checks (default: by subject)"
    )
    args = parser.parse_args(argv)
    baseline = args.baseline or commit_before(ORGANIZATIONS_SUBJECT)
    first = args.first_version or commit_before(CHEAPER_SUBJECT)
    with (
        server_url() as url,
        campaign_database(url) as now_url,
        database_at(url, baseline) as old_url,
        database_at(url, first) as first_url,
    ):
        old_campaign, _ = prepared(old_url, end_user=False)
        now_campaign, member = prepared(now_url, end_user=True)
        first_campaign, first_member = prepared(first_url, end_user=True)
        for db_url in (old_url, now_url, first_url):
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute("VACUUM (ANALYZE)")
        ways: dict[str, Way] = {
            WAYS[0]: Way(old_url, old_campaign),
            WAYS[1]: Way(now_url, now_campaign),
            WAYS[2]: Way(now_url, now_campaign, member),
            WAYS[3]: Way(first_url, first_campaign, first_member),
        }
        try:
            for way in ways.values():  # warm-up round, untimed
                way.round()
                way.samples = {name: [] for name in FUNCTIONS}
            for number in range(ROUNDS):
                shift = number % len(WAYS)
                for label in WAYS[shift:] + WAYS[:shift]:
                    ways[label].round()
        finally:
            for way in ways.values():
                way.conn.close()
        print(f"## Tenancy overhead — {server_label(url)}")
        short = {rev: git("rev-parse", "--short", rev).strip() for rev in (baseline, first)}
        print(
            f"{sql_fingerprint()}; before = {short[baseline]}; first version = {short[first]};"
            f" {ROUNDS} rounds x {CALLS} calls per function and way, one client"
        )
        print()
        rows = []
        for name in FUNCTIONS:
            medians = [statistics.median(ways[way].samples[name]) * 1000 for way in WAYS]
            before, service, user, first_user = medians
            rows.append(
                [
                    f"`{name}`",
                    *(f"{ms:.3f}" for ms in (before, service, user, first_user)),
                    *(f"{ms / before:.2f}" for ms in (service, user, first_user)),
                ]
            )
        print_table(
            [
                "function",
                *(f"{way} p50 ms" for way in WAYS),
                "service / before",
                "end user / before",
                "first version, end user / before",
            ],
            rows,
        )


if __name__ == "__main__":
    main()
