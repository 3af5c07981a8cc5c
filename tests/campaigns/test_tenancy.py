"""Campaign tenancy (issue 10, docs/decisions.md D45-D49): every campaign row belongs to one
organization and every function and route is confined to the caller's.

(a) SQL as Supabase calls it: an end user is a role that is not a member of leadledger_service
    (the test server's session role is a superuser, which org_scope takes for the service), with
    request.jwt.claims set in the transaction; members of organization B acting on organization
    A's campaigns, businesses and ZIPs get exactly what a missing id gets, lists show none of A's
    rows, and nothing changes; no claims, claims without a user, without an organization, of a
    non-member, or a p_organization_id other than the claims' are refused and write nothing.
(b) HTTP: a member of B on every /api/campaigns route with A's objects (by id, by listing, by
    cursor) gets 404 or a page without A's rows, and nothing changes; a revoked key, an expired
    JWT, a JWT of a non-member get 401.
(c) Row level security: a role like Supabase's authenticated, with claims of B, reads only B's
    rows of every campaign table.
(d) The migration: campaigns of the schema before 20261202040100 (created by a user, with an
    organization_id, with neither) land in the right organization, and every child row with its
    campaign's.

Every cross-tenant attempt is counted with LEDGER.record (tests/tenants.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from pydantic import SecretStr

from leadledger.api import create_app
from leadledger.api.auth import new_api_key
from leadledger.campaigns.client import CampaignsClient
from leadledger.campaigns.importer import sample_dataset
from leadledger.campaigns.models import CampaignCreate, ZipCodeTarget
from leadledger.db import Database, ReferencedRecordNotFoundError
from leadledger.db.migrations import MigrationRunner, discover
from leadledger.orgs.client import OrgsClient
from tests.campaigns.conftest import (
    GMAPS_TABLES,
    UNKNOWN_ID,
    Conn,
    Envelope,
    apify_item,
    call_sql,
    fetch_sql,
    ok,
    prepare,
    rows,
    tables_state,
    value,
)
from tests.conftest import make_settings
from tests.tenants import LEDGER, EndUsers, Member, end_users, new_member

EndUser = EndUsers

#: What a cross-tenant call must leave as it was: the campaign tables and the organizations.
WATCHED = (*GMAPS_TABLES, "organizations")

#: Every public function of the campaign domain, as end users may call it (secure_function(..., true)).
CAMPAIGN_FUNCTIONS = (
    "public.create_campaign_with_coverage(jsonb, jsonb, uuid)",
    "public.insert_businesses_batch(uuid, varchar, jsonb, uuid)",
    "public.update_campaign_statistics(uuid, uuid)",
    "public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, uuid)",
    "public.update_coverage_status(uuid, varchar, integer, integer, numeric, varchar, text, uuid)",
    "public.update_enrichment_batch(varchar, jsonb, uuid)",
    "public.save_facebook_enrichment(uuid, uuid, jsonb, uuid)",
    "public.save_linkedin_enrichment(uuid, uuid, jsonb, uuid)",
    "public.update_email_verification(uuid, varchar, jsonb, uuid)",
    "public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid)",
    "public.claim_businesses_for_enrichment(uuid, varchar, text, integer, interval, uuid)",
    "public.transition_campaign_status(uuid, varchar, text, uuid)",
    "public.get_campaign_overview(uuid, uuid)",
    "public.list_campaigns(integer, timestamptz, uuid, varchar, uuid)",
    "public.is_valid_status_transition(varchar, varchar)",
)

JWT_SECRET = "campaign-tenancy-test-secret-of-32-bytes!"


# ---------------------------------------------------------------------------------------------
# Two organizations with campaigns, and an outsider
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    a_org: str
    a_user: str
    b_org: str
    b_user: str
    c_user: str  # a member of a third organization only
    a_campaign: str  # two ZIPs, two businesses, enrichments, a verification, a cost, a lease
    a_second: str
    a_business: str  # enriched by Facebook and LinkedIn, its email verified
    a_pending: str  # pending Facebook enrichment, leased
    a_email: str
    b_campaign: str
    b_business: str

    @property
    def a_campaigns(self) -> set[str]:
        return {self.a_campaign, self.a_second}


def new_user(conn: Conn, name: str) -> tuple[str, str]:
    """(user id, organization id) of a new user, owner of an organization of his own."""
    created = ok(conn, "create_app_user", p_email=f"{name}-{uuid.uuid4().hex[:8]}@example.com", p_name=name)
    return str(created["user_id"]), str(created["organization_id"])


def build_world(conn: Conn) -> World:
    """As the service: A's campaigns through every kind of row, and one campaign of B's."""
    a_user, a_org = new_user(conn, "ann")
    b_user, b_org = new_user(conn, "bob")
    c_user, _ = new_user(conn, "cid")
    created = ok(
        conn,
        "create_campaign_with_coverage",
        p_campaign_data={"name": "A dentists", "keywords": ["dentist"], "created_by": a_user},
        p_zip_codes=["78701", "78702"],
    )
    assert created["organization_id"] == a_org  # the creator's one organization
    a_campaign = str(created["campaign_id"])
    a_second = str(
        ok(
            conn,
            "create_campaign_with_coverage",
            p_campaign_data={"name": "A second"},
            p_zip_codes=["78703"],
            p_organization_id=a_org,
        )["campaign_id"]
    )
    ok(
        conn,
        "insert_businesses_batch",
        p_campaign_id=a_campaign,
        p_zip_code="78701",
        p_businesses=[apify_item("a-1", 1), apify_item("a-2", 2)],
    )
    a_business = str(value(conn, "SELECT id FROM gmaps_businesses WHERE place_id = 'a-1'"))
    a_pending = str(value(conn, "SELECT id FROM gmaps_businesses WHERE place_id = 'a-2'"))
    a_email = "owner@a-one.example.com"
    ok(
        conn,
        "save_facebook_enrichment",
        p_business_id=a_business,
        p_campaign_id=a_campaign,
        p_enrichment={"facebook_url": "https://facebook.com/a1", "primary_email": "fb@a-one.example.com"},
    )
    ok(
        conn,
        "update_enrichment_batch",
        p_enrichment_type="linkedin",
        p_enrichments=[{"business_id": a_business, "primary_email": a_email}],
    )
    ok(
        conn,
        "update_email_verification",
        p_business_id=a_business,
        p_email=a_email,
        p_verification_data={"status": "deliverable"},
    )
    ok(
        conn,
        "track_campaign_cost",
        p_campaign_id=a_campaign,
        p_service="google_maps",
        p_items_processed=2,
        p_cost_usd=1,
    )
    ok(conn, "transition_campaign_status", p_campaign_id=a_campaign, p_new_status="running")
    ok(
        conn,
        "update_coverage_status",
        p_campaign_id=a_campaign,
        p_zip_code="78701",
        p_businesses_found=2,
        p_emails_found=2,
        p_actual_cost=1,
    )
    claimed = ok(
        conn,
        "claim_businesses_for_enrichment",
        p_campaign_id=a_campaign,
        p_enrichment_type="facebook",
        p_worker="w",
    )
    assert [b["business_id"] for b in claimed["businesses"]] == [a_pending]
    ok(conn, "update_campaign_statistics", p_campaign_id=a_campaign)

    b_campaign = str(
        ok(
            conn,
            "create_campaign_with_coverage",
            p_campaign_data={"name": "B plumbers", "created_by": b_user},
            p_zip_codes=["90210"],
        )["campaign_id"]
    )
    ok(
        conn,
        "insert_businesses_batch",
        p_campaign_id=b_campaign,
        p_zip_code="90210",
        p_businesses=[apify_item("b-1", 7)],
    )
    b_business = str(value(conn, "SELECT id FROM gmaps_businesses WHERE place_id = 'b-1'"))
    return World(
        a_org,
        a_user,
        b_org,
        b_user,
        c_user,
        a_campaign,
        a_second,
        a_business,
        a_pending,
        a_email,
        b_campaign,
        b_business,
    )


def organization_digest(conn: Conn, organization: str) -> dict[str, tuple[int, str]]:
    """Row count and digest of one organization's rows of every campaign table."""
    query = " UNION ALL ".join(
        f"SELECT '{t}', count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '')"
        f" FROM public.{t} x WHERE x.organization_id = %(org)s"
        for t in GMAPS_TABLES
    )
    return {str(t): (int(n), str(d)) for t, n, d in conn.execute(query, {"org": organization}).fetchall()}


def assert_children_follow_their_parents(conn: Conn) -> None:
    """Every child row carries its campaign's organization (a lease: its business's)."""
    for table in GMAPS_TABLES[1:]:
        parent = (
            "JOIN gmaps_businesses p ON p.id = t.business_id"
            if table == "gmaps_enrichment_leases"
            else "JOIN gmaps_campaigns p ON p.id = t.campaign_id"
        )
        mismatched = value(
            conn,
            f"SELECT count(*) FROM {table} t {parent}"
            " WHERE t.organization_id IS DISTINCT FROM p.organization_id",
        )
        assert mismatched == 0, table


@pytest.fixture(scope="module")
def world_db(shared_db_url: str) -> Iterator[tuple[Conn, World]]:
    """One database for the module's SQL attempts: each runs in a rolled-back transaction."""
    with psycopg.connect(shared_db_url, autocommit=True) as conn:
        prepare(conn)
        yield conn, build_world(conn)


# ---------------------------------------------------------------------------------------------
# End users, as PostgREST calls for them
# ---------------------------------------------------------------------------------------------


def claims(user: str | None, organization: str | None, **more: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"role": "authenticated", **more}
    if user is not None:
        found["sub"] = user
    if organization is not None:
        found["organization_id"] = organization
    return found


@contextmanager
def end_user(conn: Conn, *, member_of: str | None = None) -> Iterator[EndUser]:
    """A role like Supabase's ``authenticated`` (tests/tenants.py), optionally ``IN ROLE
    member_of``, that may execute every campaign function."""
    with end_users(conn, CAMPAIGN_FUNCTIONS, member_of=member_of) as users:
        yield users


# ---------------------------------------------------------------------------------------------
# (a) SQL: organization B, and callers who prove nothing, on organization A's objects
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One call naming A's objects: an envelope function refused with ``error`` (or, for the
    enrichment batch, every item failing as not found), or a table-returning function raising
    ``error`` (``rows``) / listing none of A's campaigns (``listing``)."""

    name: str
    function: str
    params: dict[str, Any]
    error: str | None
    kind: str = "envelope"  # envelope | batch | rows | listing


def attempts_on_a(w: World) -> list[Attempt]:
    lost = "Campaign not found"
    return [
        Attempt(
            "create in A (campaign_data)",
            "create_campaign_with_coverage",
            {"p_campaign_data": {"name": "Hijack", "organization_id": w.a_org}, "p_zip_codes": ["78701"]},
            "Organization not found",
        ),
        Attempt(
            "insert businesses",
            "insert_businesses_batch",
            {
                "p_campaign_id": w.a_campaign,
                "p_zip_code": "78701",
                "p_businesses": [apify_item("a-1", 1, title="X")],
            },
            lost,
        ),
        Attempt("statistics", "update_campaign_statistics", {"p_campaign_id": w.a_campaign}, lost),
        Attempt(
            "cost",
            "track_campaign_cost",
            {
                "p_campaign_id": w.a_campaign,
                "p_service": "bouncer",
                "p_items_processed": 1,
                "p_cost_usd": 5000,
            },
            lost,
        ),
        Attempt(
            "coverage",
            "update_coverage_status",
            {
                "p_campaign_id": w.a_campaign,
                "p_zip_code": "78702",
                "p_businesses_found": 0,
                "p_emails_found": 0,
                "p_actual_cost": 0,
                "p_status": "failed",
                "p_error": "sabotage",
            },
            lost,
        ),
        Attempt(
            "facebook enrichment",
            "save_facebook_enrichment",
            {
                "p_business_id": w.a_business,
                "p_campaign_id": w.a_campaign,
                "p_enrichment": {"primary_email": "x@evil.com"},
            },
            lost,
        ),
        Attempt(
            "facebook enrichment via B's campaign",
            "save_facebook_enrichment",
            {
                "p_business_id": w.a_business,
                "p_campaign_id": w.b_campaign,
                "p_enrichment": {"primary_email": "x@evil.com"},
            },
            "Business not found",
        ),
        Attempt(
            "linkedin enrichment",
            "save_linkedin_enrichment",
            {
                "p_business_id": w.a_pending,
                "p_campaign_id": w.a_campaign,
                "p_enrichment": {"primary_email": "x@evil.com"},
            },
            lost,
        ),
        Attempt(
            "linkedin enrichment via B's campaign",
            "save_linkedin_enrichment",
            {
                "p_business_id": w.a_pending,
                "p_campaign_id": w.b_campaign,
                "p_enrichment": {"primary_email": "x@evil.com"},
            },
            "Business not found",
        ),
        Attempt(
            "enrichment batch",
            "update_enrichment_batch",
            {
                "p_enrichment_type": "facebook",
                "p_enrichments": [
                    {"business_id": w.a_pending, "primary_email": "x@evil.com"},
                    {"business_id": w.a_business, "status": "failed"},
                ],
            },
            None,
            "batch",
        ),
        Attempt(
            "verification",
            "update_email_verification",
            {
                "p_business_id": w.a_business,
                "p_email": w.a_email,
                "p_verification_data": {"status": "undeliverable"},
            },
            "Business not found",
        ),
        Attempt(
            "claim",
            "claim_businesses_for_enrichment",
            {
                "p_campaign_id": w.a_campaign,
                "p_enrichment_type": "linkedin",
                "p_worker": "thief",
                "p_lease": timedelta(days=1),
            },
            lost,
        ),
        Attempt(
            "transition",
            "transition_campaign_status",
            {"p_campaign_id": w.a_campaign, "p_new_status": "cancelled"},
            lost,
        ),
        Attempt("overview", "get_campaign_overview", {"p_campaign_id": w.a_campaign}, lost),
        Attempt(
            "pending businesses",
            "get_businesses_for_enrichment",
            {"p_campaign_id": w.a_campaign, "p_enrichment_type": "linkedin"},
            lost,
            "rows",
        ),
        Attempt("list", "list_campaigns", {}, None, "listing"),
        Attempt("list running", "list_campaigns", {"p_status": "running"}, None, "listing"),
    ]


def cursor_attempt(conn: Conn, w: World) -> Attempt:
    """list_campaigns with a cursor positioned on A's newest campaign (a day ahead of it)."""
    created_at = value(conn, "SELECT created_at FROM gmaps_campaigns WHERE id = %s", w.a_second)
    return Attempt(
        "list by A's cursor",
        "list_campaigns",
        {"p_before_created_at": created_at + timedelta(days=1), "p_before_id": w.a_second},
        None,
        "listing",
    )


def missing_twin(attempt: Attempt, w: World) -> dict[str, Any]:
    """The same call with A's ids replaced by an id nobody has."""
    a_ids = {w.a_campaign, w.a_second, w.a_business, w.a_pending, w.a_org}
    return {k: UNKNOWN_ID if isinstance(v, str) and v in a_ids else v for k, v in attempt.params.items()}


def normalized(envelope: Envelope, *ids: str) -> tuple[Any, ...]:
    detail = str(envelope.get("error_detail"))
    for i in ids:
        detail = detail.replace(i, "<id>")
    return envelope["success"], envelope.get("error"), envelope.get("error_code"), detail


def run_attempt(
    user: EndUser,
    conn: Conn,
    w: World,
    attempt: Attempt,
    token: dict[str, Any] | None,
    *,
    code: str,
    error: str | None,
    label: str | None,
) -> None:
    """One cross-tenant call: counted in LEDGER under ``label`` (not counted when None) as a leak
    unless it was refused as expected and changed nothing; then asserted."""
    before = tables_state(conn, WATCHED)
    a_before = organization_digest(conn, w.a_org)
    wrong: list[Any] = []
    if attempt.kind in ("rows", "listing"):
        found = user.fetch_or_error(token, attempt.function, **attempt.params)
        if attempt.kind == "listing" and code == "":
            if not isinstance(found, list) or {str(r["id"]) for r in found} & w.a_campaigns:
                wrong.append(found)
        elif (
            not isinstance(found, psycopg.Error)
            or found.sqlstate != code
            or (error is not None and error not in str(found))
        ):
            wrong.append(found)
    else:
        result = user.call(token, attempt.function, **attempt.params)
        if attempt.kind == "batch" and code == "":
            if (
                result["success"] is not True
                or (result["updated"], result["failed"]) != (0, len(attempt.params["p_enrichments"]))
                or {e["reason"] for e in result["errors"]} != {"business_id: business not found"}
            ):
                wrong.append(result)
        elif (
            result["success"] is not False
            or result["error_code"] != code
            or (error is not None and result["error"] != error)
        ):
            wrong.append(result)
    if tables_state(conn, WATCHED) != before or organization_digest(conn, w.a_org) != a_before:
        wrong.append("changed something")
    if label is not None:
        LEDGER.record("sql", label, bool(wrong))
    assert not wrong, (attempt.name, wrong)


def test_members_of_b_reach_nothing_of_a(world_db: tuple[Conn, World]) -> None:
    """Claims of a member of B, on every function, with A's ids: not found (exactly as a missing
    id: same message, code and detail), lists without A's campaigns, nothing written."""
    conn, w = world_db
    token = claims(w.b_user, w.b_org)
    with end_user(conn) as user:
        for attempt in [*attempts_on_a(w), cursor_attempt(conn, w)]:
            expected = "" if attempt.kind in ("batch", "listing") else "23503"
            label = f"{attempt.function} ({attempt.name}, member of B)"
            run_attempt(user, conn, w, attempt, token, code=expected, error=attempt.error, label=label)
            if attempt.kind == "envelope":
                twin = user.call(token, attempt.function, **missing_twin(attempt, w))
                seen = user.call(token, attempt.function, **attempt.params)
                ids = (w.a_campaign, w.a_business, w.a_pending, w.a_org, UNKNOWN_ID)
                assert normalized(seen, *ids) == normalized(twin, *ids), attempt.name
            if attempt.kind == "rows":
                twin_error = user.fetch_or_error(token, attempt.function, **missing_twin(attempt, w))
                assert isinstance(twin_error, psycopg.Error)
                assert str(twin_error).replace(UNKNOWN_ID, "<id>") == str(
                    user.fetch_or_error(token, attempt.function, **attempt.params)
                ).replace(w.a_campaign, "<id>")
        listed = user.fetch_or_error(token, "list_campaigns")
        assert isinstance(listed, list)
        assert {str(r["id"]) for r in listed} == {w.b_campaign}  # B sees his own


REFUSED_TOKENS: dict[str, Any] = {
    "no claims": lambda w: None,
    "claims without a user": lambda w: claims(None, w.a_org),
    "claims without an organization": lambda w: claims(w.a_user, None),
    "a non-member naming A": lambda w: claims(w.c_user, w.a_org),
    "a member of B naming A": lambda w: claims(w.b_user, w.a_org),
    "a member of B naming A in app_metadata": lambda w: {
        "sub": w.b_user,
        "app_metadata": {"organization_id": w.a_org},
    },
    "A named in user_metadata only": lambda w: {
        "sub": w.a_user,
        "user_metadata": {"organization_id": w.a_org},
    },
    "a user id that is not a UUID": lambda w: claims("ann", w.a_org),
    "service_role as a claim": lambda w: {"role": "service_role"},
}


@pytest.mark.parametrize("who", list(REFUSED_TOKENS))
def test_callers_who_prove_no_membership_are_refused(world_db: tuple[Conn, World], who: str) -> None:
    """No claims, a token without a user or organization, a non-member, a user_metadata claim:
    42501 from every function (A's ids or not), nothing written. A role made IN ROLE of such a
    role is no better."""
    conn, w = world_db
    token = REFUSED_TOKENS[who](w)
    with end_user(conn) as user:
        for attempt in [*attempts_on_a(w), cursor_attempt(conn, w)]:
            label = f"{attempt.function} ({attempt.name}, {who})"
            run_attempt(user, conn, w, attempt, token, code="42501", error=None, label=label)


def test_a_role_made_in_role_of_an_end_user_role_is_an_end_user(world_db: tuple[Conn, World]) -> None:
    """D47: a custom role made IN ROLE authenticated (here: of an end-user role) without claims is
    refused, not taken for the service."""
    conn, w = world_db
    with end_user(conn) as parent:
        role = f"lltest_custom_{uuid.uuid4().hex[:8]}"
        conn.execute(
            sql.SQL("CREATE ROLE {} NOLOGIN IN ROLE {}").format(
                sql.Identifier(role), sql.Identifier(parent.role)
            )
        )
        custom = EndUser(conn, role)
        for attempt in attempts_on_a(w):
            label = f"{attempt.function} ({attempt.name}, custom role without claims)"
            run_attempt(custom, conn, w, attempt, None, code="42501", error=None, label=label)


def test_a_p_organization_id_other_than_the_claims_is_organization_not_found(
    world_db: tuple[Conn, World],
) -> None:
    """B's claims with p_organization_id = A: 'Organization not found' (23503) from every
    function, as for an organization that does not exist; nothing written."""
    conn, w = world_db
    token = claims(w.b_user, w.b_org)
    with end_user(conn) as user:
        for attempt in [*attempts_on_a(w), cursor_attempt(conn, w)]:
            for organization in (w.a_org, UNKNOWN_ID):
                named = Attempt(
                    attempt.name,
                    attempt.function,
                    {**attempt.params, "p_organization_id": organization},
                    None,
                    attempt.kind,
                )
                if attempt.kind == "batch":
                    named = Attempt(named.name, named.function, named.params, None, "envelope")
                if attempt.kind == "listing":
                    named = Attempt(named.name, named.function, named.params, None, "rows")
                label = f"{attempt.function} ({attempt.name}, B naming A's organization)"
                run_attempt(
                    user,
                    conn,
                    w,
                    named,
                    token,
                    code="23503",
                    error="Organization not found",
                    label=label if organization == w.a_org else None,
                )


def test_a_member_acts_in_his_organization(world_db: tuple[Conn, World]) -> None:
    """The same functions work for A's member (so the refusals above are the tenancy, not a
    missing grant): he reads and writes A's campaigns, his new campaign is A's and his own, and
    he sees none of B's."""
    conn, w = world_db
    token = claims(w.a_user, w.a_org)
    with end_user(conn) as user:
        listed = user.fetch_or_error(token, "list_campaigns")
        assert isinstance(listed, list)
        assert {str(r["id"]) for r in listed} == w.a_campaigns
        overview = user.call(token, "get_campaign_overview", p_campaign_id=w.a_campaign)
        assert overview["success"] is True, overview
        assert overview["campaign"]["organization_id"] == w.a_org
        assert (
            user.call(token, "get_campaign_overview", p_campaign_id=w.b_campaign)["error"]
            == "Campaign not found"
        )

        created = user.call(
            token, "create_campaign_with_coverage", p_campaign_data={"name": "Mine"}, p_zip_codes=["78705"]
        )
        assert created["success"] is True, created
        assert created["organization_id"] == w.a_org
        row = rows(
            conn,
            "SELECT organization_id::text, created_by::text FROM gmaps_campaigns WHERE id = %s",
            created["campaign_id"],
        )
        assert row == [{"organization_id": w.a_org, "created_by": w.a_user}]
        same = user.call(
            token,
            "create_campaign_with_coverage",
            p_campaign_data={"name": "Named", "organization_id": w.a_org, "created_by": w.a_user},
            p_zip_codes=["78705"],
            p_organization_id=w.a_org,
        )
        assert same["success"] is True, same
        forged = user.call(
            token,
            "create_campaign_with_coverage",
            p_campaign_data={"name": "x", "created_by": w.b_user},
            p_zip_codes=["78705"],
        )
        assert (forged["success"], forged["error_code"]) == (False, "42501"), forged
        by_email = user.call(
            token,
            "create_campaign_with_coverage",
            p_campaign_data={"name": "x", "created_by": "Ann@Example.com"},
            p_zip_codes=["78705"],
        )
        creator = rows(
            conn,
            "SELECT created_by::text, created_by_email FROM gmaps_campaigns WHERE id = %s",
            by_email["campaign_id"],
        )
        assert creator == [{"created_by": w.a_user, "created_by_email": "ann@example.com"}]

        campaign = str(created["campaign_id"])
        batch = user.call(
            token,
            "insert_businesses_batch",
            p_campaign_id=campaign,
            p_zip_code="78705",
            p_businesses=[apify_item("m-1", 3)],
        )
        assert batch["inserted"] == 1, batch
        business = str(value(conn, "SELECT id FROM gmaps_businesses WHERE campaign_id = %s", campaign))
        for function, params in (
            ("transition_campaign_status", {"p_campaign_id": campaign, "p_new_status": "running"}),
            (
                "track_campaign_cost",
                {"p_campaign_id": campaign, "p_service": "bouncer", "p_items_processed": 1, "p_cost_usd": 1},
            ),
            (
                "update_coverage_status",
                {
                    "p_campaign_id": campaign,
                    "p_zip_code": "78705",
                    "p_businesses_found": 1,
                    "p_emails_found": 1,
                    "p_actual_cost": 0,
                },
            ),
            (
                "claim_businesses_for_enrichment",
                {"p_campaign_id": campaign, "p_enrichment_type": "linkedin", "p_worker": "me"},
            ),
            (
                "save_facebook_enrichment",
                {"p_business_id": business, "p_campaign_id": campaign, "p_enrichment": {}},
            ),
            (
                "update_enrichment_batch",
                {
                    "p_enrichment_type": "linkedin",
                    "p_enrichments": [{"business_id": business, "primary_email": "me@m.example.com"}],
                },
            ),
            (
                "update_email_verification",
                {
                    "p_business_id": business,
                    "p_email": "me@m.example.com",
                    "p_verification_data": {"status": "risky"},
                },
            ),
            ("update_campaign_statistics", {"p_campaign_id": campaign, "p_organization_id": w.a_org}),
        ):
            result = user.call(token, function, **params)
            assert result["success"] is True, (function, result)
        pending = user.fetch_or_error(
            token, "get_businesses_for_enrichment", p_campaign_id=w.a_campaign, p_enrichment_type="facebook"
        )
        assert isinstance(pending, list)
        assert [str(r["business_id"]) for r in pending] == [w.a_pending]
        with user.acting(
            {"sub": w.a_user, "app_metadata": {"organization_id": w.a_org}}
        ) as c:  # a custom hook's claim
            assert {str(r["id"]) for r in fetch_sql(c, "list_campaigns")} >= w.a_campaigns
        assert user.fetch_or_error(token, "is_valid_status_transition", p_from="draft", p_to="running") == [
            {"is_valid_status_transition": True}
        ]
        assert_children_follow_their_parents(conn)


# ---------------------------------------------------------------------------------------------
# The service: where a new campaign goes, and p_organization_id confines it too
# ---------------------------------------------------------------------------------------------


def test_where_the_service_puts_a_new_campaign(pg: Conn) -> None:
    ann, ann_org = new_user(pg, "ann")
    _, bob_org = new_user(pg, "bob")
    default = str(value(pg, "SELECT id FROM organizations WHERE is_default"))

    def create(**params: Any) -> Envelope:
        return call_sql(pg, "create_campaign_with_coverage", p_zip_codes=["78701"], **params)

    assert create(p_campaign_data={"name": "x", "created_by": ann})["organization_id"] == ann_org
    assert create(p_campaign_data={"name": "x"})["organization_id"] == default
    assert (
        create(p_campaign_data={"name": "x", "created_by": "ops@example.com"})["organization_id"] == default
    )
    assert (
        create(p_campaign_data={"name": "x", "created_by": str(uuid.uuid4())})["organization_id"] == default
    )
    assert (
        create(p_campaign_data={"name": "x", "created_by": ann}, p_organization_id=bob_org)["organization_id"]
        == bob_org
    )
    new = str(uuid.uuid4())  # 000 §1.1's organization_id, of an organization not there yet
    assert create(p_campaign_data={"name": "x", "organization_id": new})["organization_id"] == new
    assert value(pg, "SELECT name FROM organizations WHERE id = %s", new) == f"Organization {new}"

    before = tables_state(pg, WATCHED)
    unknown = create(p_campaign_data={"name": "x"}, p_organization_id=str(uuid.uuid4()))
    assert (unknown["error"], unknown["error_code"]) == ("Organization not found", "23503")
    both = create(p_campaign_data={"name": "x", "organization_id": ann_org}, p_organization_id=bob_org)
    assert (both["error"], both["error_code"]) == ("Organization not found", "23503")
    assert tables_state(pg, WATCHED) == before
    ok(pg, "set_organization_member", p_organization_id=bob_org, p_user_id=ann, p_role="member")
    before = tables_state(pg, WATCHED)
    several = create(p_campaign_data={"name": "x", "created_by": ann})
    assert (several["error_code"], several["error"]) == (
        "22023",
        "p_organization_id: is required: the user belongs to 2 organizations",
    )
    assert tables_state(pg, WATCHED) == before


def test_the_service_confined_to_an_organization_sees_only_it(pg: Conn) -> None:
    w = build_world(pg)
    before = tables_state(pg, WATCHED)
    for attempt in [*attempts_on_a(w), cursor_attempt(pg, w)]:
        params = {**attempt.params, "p_organization_id": w.b_org}
        if attempt.kind in ("rows", "listing"):
            if attempt.kind == "listing":
                assert {str(r["id"]) for r in fetch_sql(pg, attempt.function, **params)} <= {w.b_campaign}
            else:
                with (
                    pytest.raises(psycopg.errors.ForeignKeyViolation, match=str(attempt.error)),
                    pg.transaction(),
                ):
                    fetch_sql(pg, attempt.function, **params)
        elif attempt.kind == "batch":
            assert call_sql(pg, attempt.function, **params)["updated"] == 0
        else:
            result = call_sql(pg, attempt.function, **params)
            assert (result["success"], result["error"]) == (False, attempt.error), (attempt.name, result)
    assert tables_state(pg, WATCHED) == before
    # Across organizations (NULL), the service reaches both.
    assert {str(r["id"]) for r in fetch_sql(pg, "list_campaigns")} == {*w.a_campaigns, w.b_campaign}
    assert_children_follow_their_parents(pg)


def test_the_client_passes_the_organization(database: Database) -> None:
    """Every client method takes organization_id (p_organization_id): another organization's
    campaign is not found (ReferencedRecordNotFoundError), its list empty; without one, the
    service reaches every campaign."""
    orgs = OrgsClient(database)
    a = orgs.create_user(f"a-{uuid.uuid4().hex[:8]}@example.com").organization_id
    b = orgs.create_user(f"b-{uuid.uuid4().hex[:8]}@example.com").organization_id
    client = CampaignsClient(database)
    campaign = CampaignCreate(name="A's", zip_codes=[ZipCodeTarget(zip_code="78701")])
    created = client.create_campaign(campaign, organization_id=a)
    assert created.organization_id == a
    cid = created.campaign_id
    for call in (
        lambda: client.get_campaign(cid, organization_id=b),
        lambda: client.update_statistics(cid, organization_id=b),
        lambda: client.transition_status(cid, "running", organization_id=b),
        lambda: client.track_campaign_cost(cid, "bouncer", 1, "1", organization_id=b),
        lambda: client.update_coverage_status(cid, "78701", 1, 0, 0, organization_id=b),
        lambda: client.save_businesses_batch(cid, "78701", [apify_item("x", 1)], organization_id=b),
        lambda: client.claim_for_enrichment(cid, "facebook", "w", organization_id=b),
        lambda: client.get_businesses_for_enrichment(cid, "facebook", organization_id=b),
    ):
        with pytest.raises(ReferencedRecordNotFoundError):
            call()
    assert client.list_campaigns(organization_id=b) == []
    assert [c.id for c in client.list_campaigns(organization_id=a)] == [cid]
    assert client.get_campaign(cid).campaign.organization_id == a  # the service, across organizations


def test_every_function_takes_p_organization_id_last(conn: Conn) -> None:
    found = rows(
        conn,
        """SELECT p.oid::regprocedure::text AS signature, p.proargnames[p.pronargs] AS last, p.pronargdefaults
             FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.oid = ANY(%s::regprocedure[])""",
        list(CAMPAIGN_FUNCTIONS),
    )
    assert len(found) == len(CAMPAIGN_FUNCTIONS)
    for f in found:
        if f["signature"].startswith("is_valid_status_transition"):
            continue  # reads no data
        assert f["last"] == "p_organization_id", f
        assert f["pronargdefaults"] >= 1, f


# ---------------------------------------------------------------------------------------------
# (c) Row level security, as Supabase reads a table for an end user
# ---------------------------------------------------------------------------------------------


def test_row_level_security_shows_an_end_user_his_organizations_rows_only(
    world_db: tuple[Conn, World],
) -> None:
    """Supabase's authenticated role (created here where it does not exist, and granted SELECT by
    org_open_reads as the current state does on Supabase), with claims of B: each campaign table
    shows B's rows only; without claims, or with claims of a non-member, none."""
    conn, w = world_db
    expected = {t: n for t, (n, _) in organization_digest(conn, w.b_org).items()}
    assert expected["gmaps_campaigns"] == 1
    with conn.transaction(force_rollback=True):
        if not value(conn, "SELECT count(*) FROM pg_roles WHERE rolname = 'authenticated'"):
            conn.execute("CREATE ROLE authenticated NOLOGIN")
        for table in GMAPS_TABLES:
            conn.execute("SELECT leadledger.org_open_reads(%s::regclass)", (f"public.{table}",))
        for who, token, visible in (
            ("member of B", claims(w.b_user, w.b_org), expected),
            ("no claims", None, dict.fromkeys(GMAPS_TABLES, 0)),
            ("non-member naming A", claims(w.c_user, w.a_org), dict.fromkeys(GMAPS_TABLES, 0)),
            ("member of B naming A", claims(w.b_user, w.a_org), dict.fromkeys(GMAPS_TABLES, 0)),
        ):
            with conn.transaction():
                conn.execute("SET LOCAL ROLE authenticated")
                conn.execute(
                    "SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(token) if token else "",)
                )
                for table in GMAPS_TABLES:
                    seen = rows(conn, f"SELECT organization_id::text AS o FROM public.{table}")
                    leaked = any(r["o"] != w.b_org for r in seen) or len(seen) > visible[table]
                    LEDGER.record("rls", f"SELECT {table} ({who})", leaked)
                    assert len(seen) == visible[table], (who, table, seen)
                    assert not leaked
                conn.execute("RESET ROLE")


# ---------------------------------------------------------------------------------------------
# (b) HTTP: every /api/campaigns route
# ---------------------------------------------------------------------------------------------


@dataclass
class HttpWorld:
    api: TestClient
    a: Member
    b: Member
    outsider: Member
    a_campaign: str
    a_second: str
    a_business: str
    a_revoked_key: str
    b_campaign: str


def jwt_header(
    user_id: UUID, organization_id: UUID | None, *, expires_in: int = 600, **more: Any
) -> dict[str, str]:
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "aud": "authenticated",
        "role": "authenticated",
        "exp": int(time.time()) + expires_in,
        **more,
    }
    if organization_id is not None:
        payload["organization_id"] = str(organization_id)
    return {"Authorization": f"Bearer {jwt.encode(payload, JWT_SECRET, algorithm='HS256')}"}


@pytest.fixture
def http(db_url: str, database: Database) -> Iterator[HttpWorld]:
    a = new_member(database, "ann@a.example.com", "Ann")
    b = new_member(database, "bob@b.example.com", "Bob")
    outsider = new_member(database, "cid@c.example.com", "Cid")
    revoked_key, digest = new_api_key()
    created = OrgsClient(database).create_api_key(a.user_id, digest, "old", organization_id=a.organization_id)
    OrgsClient(database).revoke_api_key(created.api_key_id)
    settings = make_settings(db_url, jwt_secret=SecretStr(JWT_SECRET))
    with TestClient(create_app(settings, database_url=db_url)) as api:

        def made(response: Any) -> str:
            assert response.status_code == 201, response.text
            return str(response.json()["campaign_id"])

        body = {"name": "A dentists", "zip_codes": [{"zip_code": "78701"}, {"zip_code": "78702"}]}
        a_campaign = made(api.post("/api/campaigns", json=body, headers=a.auth))
        a_second = made(api.post("/api/campaigns", json={**body, "name": "A second"}, headers=a.auth))
        b_campaign = made(api.post("/api/campaigns", json={**body, "name": "B"}, headers=b.auth))
        for campaign, who in ((a_campaign, a), (b_campaign, b)):
            batch = api.post(
                f"/api/campaigns/{campaign}/businesses",
                json={"zip_code": "78701", "businesses": sample_dataset()[:4]},
                headers=who.auth,
            )
            assert batch.status_code == 200, batch.text
        pending = api.get(f"/api/campaigns/{a_campaign}/enrichment/linkedin", headers=a.auth).json()["items"]
        a_business = str(pending[0]["business_id"])
        assert (
            api.post(
                "/api/campaigns/enrichments/linkedin",
                json=[{"business_id": a_business, "primary_email": "owner@a.example.com"}],
                headers=a.auth,
            ).json()["updated"]
            == 1
        )
        assert (
            api.post(
                f"/api/campaigns/{a_campaign}/claims",
                json={"enrichment_type": "facebook", "worker": "a", "limit": 2},
                headers=a.auth,
            ).json()["claimed"]
            == 2
        )
        assert (
            api.post(
                f"/api/campaigns/{a_campaign}/costs",
                json={"service": "google_maps", "items_processed": 4, "cost_usd": "0.02"},
                headers=a.auth,
            ).status_code
            == 201
        )
        assert (
            api.post(
                f"/api/campaigns/{a_campaign}/transitions", json={"status": "running"}, headers=a.auth
            ).status_code
            == 200
        )
        yield HttpWorld(api, a, b, outsider, a_campaign, a_second, a_business, revoked_key, b_campaign)


def a_routes(h: HttpWorld) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """Every /api/campaigns route aimed at A's objects: (method, path, json body, query)."""
    c, biz = h.a_campaign, h.a_business
    return [
        ("get", f"/api/campaigns/{c}", None, {}),
        ("post", f"/api/campaigns/{c}/transitions", {"status": "cancelled", "reason": "mine now"}, {}),
        (
            "post",
            f"/api/campaigns/{c}/businesses",
            {"zip_code": "78701", "businesses": sample_dataset()[:2]},
            {},
        ),
        (
            "post",
            f"/api/campaigns/{c}/costs",
            {"service": "bouncer", "items_processed": 1, "cost_usd": 5000},
            {},
        ),
        ("post", f"/api/campaigns/{c}/statistics", None, {}),
        (
            "put",
            f"/api/campaigns/{c}/coverage/78702",
            {"businesses_found": 0, "emails_found": 0, "actual_cost": 0, "status": "failed", "error": "x"},
            {},
        ),
        ("get", f"/api/campaigns/{c}/enrichment/facebook", None, {}),
        (
            "post",
            f"/api/campaigns/{c}/claims",
            {"enrichment_type": "linkedin", "worker": "thief", "lease_seconds": 86400},
            {},
        ),
        (
            "post",
            f"/api/campaigns/businesses/{biz}/verifications",
            {"email": "owner@a.example.com", "verification": {"status": "undeliverable"}},
            {},
        ),
    ]


def test_a_member_of_b_reaches_nothing_of_a_over_http(http: HttpWorld, conn: Conn) -> None:
    h = http
    before = tables_state(conn, WATCHED)

    def attempt(
        what: str, method: str, path: str, expected: int, headers: dict[str, str], **kwargs: Any
    ) -> Any:
        answer = h.api.request(method, path, headers=headers, **kwargs)
        leaked = answer.status_code != expected or h.a_campaign in answer.text or h.a_second in answer.text
        LEDGER.record("http", f"{method.upper()} {path.replace(h.a_campaign, '{A}')} ({what})", leaked)
        assert answer.status_code == expected, (method, path, answer.text)
        assert not leaked, (method, path, answer.text)
        return answer

    for who, headers in (("B's key", h.b.auth), ("B's JWT", jwt_header(h.b.user_id, h.b.organization_id))):
        for method, path, body, query in a_routes(h):
            answer = attempt(who, method, path, 404, headers, json=body, params=query)
            assert answer.json()["error_code"] == "23503"
        # The enrichment batch: A's business is reported not found, and not touched.
        batch = attempt(
            who,
            "post",
            "/api/campaigns/enrichments/facebook",
            200,
            headers,
            json=[{"business_id": h.a_business, "primary_email": "x@evil.example.com"}],
        ).json()
        assert (batch["updated"], batch["failed"], batch["errors"][0]["reason"]) == (
            0,
            1,
            "business_id: business not found",
        )
        # Lists: B's own only, by status, and with A's cursors.
        listed = attempt(who, "get", "/api/campaigns", 200, headers).json()
        assert [c["id"] for c in listed["items"]] == [h.b_campaign]
        attempt(who, "get", "/api/campaigns", 200, headers, params={"status": "running"})
        a_page = h.api.get("/api/campaigns", params={"limit": 1}, headers=h.a.auth).json()
        assert a_page["next_cursor"] is not None
        by_cursor = attempt(
            who, "get", "/api/campaigns", 200, headers, params={"cursor": a_page["next_cursor"]}
        ).json()
        assert all(c["id"] == h.b_campaign for c in by_cursor["items"])
        a_pending = h.api.get(
            f"/api/campaigns/{h.a_campaign}/enrichment/linkedin", params={"limit": 1}, headers=h.a.auth
        ).json()
        assert a_pending["next_cursor"] is not None
        attempt(
            who,
            "get",
            f"/api/campaigns/{h.a_campaign}/enrichment/linkedin",
            404,
            headers,
            params={"cursor": a_pending["next_cursor"]},
        )
        # A new campaign names no organization: a body that does is refused.
        attempt(
            who,
            "post",
            "/api/campaigns",
            422,
            headers,
            json={
                "name": "x",
                "organization_id": str(h.a.organization_id),
                "zip_codes": [{"zip_code": "78701"}],
            },
        )
    assert tables_state(conn, WATCHED) == before

    # B's own campaign is B's, created by him.
    mine = h.api.post(
        "/api/campaigns", json={"name": "B2", "zip_codes": [{"zip_code": "90001"}]}, headers=h.b.auth
    )
    assert mine.status_code == 201
    assert mine.json()["organization_id"] == str(h.b.organization_id)
    owner = rows(
        conn,
        "SELECT organization_id, created_by FROM gmaps_campaigns WHERE id = %s",
        mine.json()["campaign_id"],
    )
    assert owner == [{"organization_id": h.b.organization_id, "created_by": h.b.user_id}]
    assert_children_follow_their_parents(conn)


def test_credentials_that_prove_nothing_get_401_everywhere(http: HttpWorld, conn: Conn) -> None:
    h = http
    before = tables_state(conn, WATCHED)
    refused = {
        "revoked key": {"X-API-Key": h.a_revoked_key},
        "expired JWT": jwt_header(h.a.user_id, h.a.organization_id, expires_in=-60),
        "JWT of a non-member": jwt_header(h.outsider.user_id, h.a.organization_id),
        "JWT without an organization": jwt_header(h.a.user_id, None),
        "JWT naming A in user_metadata": jwt_header(
            h.b.user_id, None, user_metadata={"organization_id": str(h.a.organization_id)}
        ),
        "JWT with a custom role": jwt_header(
            h.outsider.user_id, h.a.organization_id, role="lltest_custom_role"
        ),
    }
    routes = [
        *a_routes(h),
        ("get", "/api/campaigns", None, {}),
        ("post", "/api/campaigns", {"name": "x", "zip_codes": [{"zip_code": "78701"}]}, {}),
        ("post", "/api/campaigns/enrichments/facebook", [{"business_id": h.a_business}], {}),
    ]
    for credentials, headers in refused.items():
        for method, path, body, query in routes:
            answer = h.api.request(method, path, headers=headers, json=body, params=query)
            LEDGER.record(
                "http",
                f"{method.upper()} {path.replace(h.a_campaign, '{A}')} ({credentials})",
                answer.status_code != 401,
            )
            assert answer.status_code == 401, (credentials, method, path, answer.text)
    assert tables_state(conn, WATCHED) == before


# ---------------------------------------------------------------------------------------------
# (d) The migration: existing campaigns move into organizations (D46)
# ---------------------------------------------------------------------------------------------

TENANCY = "20261202040100"
ORGANIZATIONS = "20261202040000"


def test_existing_campaigns_and_their_rows_move_into_organizations(empty_db_url: str) -> None:
    migrations = [m for m in discover() if m.version <= TENANCY]
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        MigrationRunner(conn, [m for m in migrations if m.version < ORGANIZATIONS], current=[]).upgrade()
        ann = str(
            value(conn, "INSERT INTO app_users (email, name) VALUES ('ann@example.com', 'Ann') RETURNING id")
        )
        bob = str(
            value(conn, "INSERT INTO app_users (email, name) VALUES ('bob@example.com', 'Bob') RETURNING id")
        )
        MigrationRunner(conn, [m for m in migrations if m.version < TENANCY], current=[]).upgrade()
        ann_org = str(value(conn, "SELECT organization_id FROM organization_members WHERE user_id = %s", ann))
        bob_org = str(value(conn, "SELECT organization_id FROM organization_members WHERE user_id = %s", bob))
        default = str(value(conn, "SELECT id FROM organizations WHERE is_default"))
        # Later, Ann also joins Bob's organization: her campaigns stay with her first one.
        conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role, created_at)"
            " VALUES (%s, %s, 'member', now() + interval '1 minute')",
            (bob_org, ann),
        )
        preset, ignored = str(uuid.uuid4()), str(uuid.uuid4())

        def campaign(
            name: str,
            organization_id: str | None = None,
            created_by: str | None = None,
            email: str | None = None,
        ) -> str:
            return str(
                value(
                    conn,
                    "INSERT INTO gmaps_campaigns (name, organization_id, created_by, created_by_email)"
                    " VALUES (%s, %s, %s, %s) RETURNING id",
                    name,
                    organization_id,
                    created_by,
                    email,
                )
            )

        campaigns = {
            "by ann, naming another organization": (campaign("a", ignored, ann), ann_org),
            "by bob": (campaign("b", None, bob), bob_org),
            "preset, new": (campaign("p", preset), preset),
            "preset, existing": (campaign("e", bob_org), bob_org),
            "by a stranger's id": (campaign("s", None, str(uuid.uuid4())), default),
            "by an email": (campaign("m", None, None, "ops@example.com"), default),
            "by nobody": (campaign("n"), default),
        }
        for n, (cid, _) in enumerate(campaigns.values()):
            conn.execute(
                "INSERT INTO gmaps_campaign_coverage (campaign_id, zip_code) VALUES (%s, '78701')", (cid,)
            )
            businesses = [
                str(
                    value(
                        conn,
                        "INSERT INTO gmaps_businesses (campaign_id, place_id) VALUES (%s, %s) RETURNING id",
                        cid,
                        f"p{n}-{i}",
                    )
                )
                for i in range(2)
            ]
            conn.execute(
                "INSERT INTO gmaps_facebook_enrichments (business_id, campaign_id) VALUES (%s, %s)",
                (businesses[0], cid),
            )
            conn.execute(
                "INSERT INTO gmaps_linkedin_enrichments (business_id, campaign_id) VALUES (%s, %s)",
                (businesses[1], cid),
            )
            conn.execute(
                "INSERT INTO gmaps_email_verifications"
                " (business_id, campaign_id, email, status, is_safe, raw_response)"
                " VALUES (%s, %s, 'x@example.com', 'deliverable', true, '{}')",
                (businesses[0], cid),
            )
            conn.execute(
                "INSERT INTO gmaps_api_costs (campaign_id, service, items_processed, cost_usd)"
                " VALUES (%s, 'bouncer', 1, 0.5)",
                (cid,),
            )
            conn.execute(
                "INSERT INTO gmaps_campaign_status_history (campaign_id, from_status, to_status)"
                " VALUES (%s, 'draft', 'running')",
                (cid,),
            )
            conn.execute(
                "INSERT INTO gmaps_enrichment_leases (business_id, enrichment_type, worker, expires_at)"
                " VALUES (%s, 'facebook', 'w', now() + interval '1 hour')",
                (businesses[1],),
            )
        counts = {t: n for t, (n, _) in tables_state(conn, GMAPS_TABLES).items()}
        organizations = value(conn, "SELECT count(*) FROM organizations")

        MigrationRunner(conn, migrations, current=[]).upgrade()

        for name, (cid, expected) in campaigns.items():
            assert (
                str(value(conn, "SELECT organization_id FROM gmaps_campaigns WHERE id = %s", cid)) == expected
            ), name
        assert value(conn, "SELECT name FROM organizations WHERE id = %s", preset) == f"Organization {preset}"
        assert (
            value(conn, "SELECT count(*) FROM organizations WHERE id = %s", ignored) == 0
        )  # the creator decided
        assert value(conn, "SELECT count(*) FROM organizations") == organizations + 1
        assert {t: n for t, (n, _) in tables_state(conn, GMAPS_TABLES).items()} == counts
        assert_children_follow_their_parents(conn)
        for table in GMAPS_TABLES:
            column = one_column(conn, table)
            assert column == {"attnotnull": True, "references": "organizations"}, table
            assert value(conn, f"SELECT count(*) FROM {table} WHERE organization_id IS NULL") == 0

        # The rollback gives the plain column back, and the upgrade is repeatable.
        MigrationRunner(conn, migrations, current=[]).downgrade()
        assert (
            value(
                conn,
                "SELECT count(*) FROM pg_attribute"
                " WHERE attrelid = 'gmaps_businesses'::regclass AND attname = 'organization_id'",
            )
            == 0
        )
        assert one_column(conn, "gmaps_campaigns") == {"attnotnull": False, "references": None}
        MigrationRunner(conn, migrations, current=[]).upgrade()
        for name, (cid, expected) in campaigns.items():
            assert (
                str(value(conn, "SELECT organization_id FROM gmaps_campaigns WHERE id = %s", cid)) == expected
            ), name
        assert_children_follow_their_parents(conn)


def one_column(conn: Conn, table: str) -> dict[str, Any]:
    found = rows(
        conn,
        """SELECT a.attnotnull,
                  (SELECT c.confrelid::regclass::text FROM pg_constraint c
                    WHERE c.conrelid = a.attrelid AND c.contype = 'f'
                      AND c.conkey = ARRAY[a.attnum]) AS references
             FROM pg_attribute a
            WHERE a.attrelid = %s::regclass AND a.attname = 'organization_id'""",
        f"public.{table}",
    )
    assert len(found) == 1, table
    return found[0]
