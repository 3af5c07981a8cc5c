"""The ETL engine under organizations (docs/decisions.md D45-D49).

End users are called as PostgREST would call them, were etl_api ever exposed: inside a
transaction that is rolled back at the end, with a role that is not a member of
leadledger_service and may only EXECUTE the ETL functions (and, as a grant added by mistake,
SELECT the tables), and ``request.jwt.claims`` set locally. (The test server's own session is a
superuser: the service, for ``leadledger.org_scope``.)

- A member of organization B acting on A's rows: ``transition_state`` answers "not found", exactly
  as for a row that does not exist; counts, stuck rows and timeouts show and move none of A's;
  naming A as ``p_organization_id`` is "Organization not found"; A's rows are unchanged.
- No claims, claims without a user or an organization, or claims naming an organization the user
  is not a member of: 42501 from every function. ``convert_legacy_status`` is the service's only.
- Row level security: such a role reading the tables sees only its organization's rows.
- The service confined to an organization (``p_organization_id``, what the HTTP API passes for
  its caller) reaches only that organization's rows.

Every cross-tenant attempt is counted in ``tests.tenants.LEDGER``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from leadledger.db import Database, ReferencedRecordNotFoundError
from leadledger.db.migrations import MigrationRunner, discover
from leadledger.etl.client import EtlClient
from leadledger.etl.models import EtlState
from tests.db.test_current_state import as_landed
from tests.etl.conftest import new_row
from tests.helpers import Conn, rows, value
from tests.tenants import LEDGER, EndUsers, Member, new_member
from tests.tenants import end_users as shared_end_users

#: What an end user's role may EXECUTE: every ETL function that acts on an organization's rows.
FUNCTIONS: tuple[str, ...] = (
    "etl_api.transition_state(text, uuid, text, text, text, uuid)",
    "etl_api.mark_timedout(interval, uuid)",
    "etl_api.get_state_counts(uuid)",
    "etl_api.get_stuck_rows(integer, uuid)",
    "etl_api.convert_legacy_status(text, text)",
)
#: The tables holding organizations' rows, with the column naming the organization.
TABLES: dict[str, str] = {
    "etl_api.org": "id",
    "etl_api.workflow_request": "org_id",
    "etl_api.activity_request": "org_id",
    "etl_api.run_queue": "org_id",
    "etl_api.run_request": "org_id",
    "etl_api.state_history": "org_id",
    "public.factor": "org_id",
}
PAST = "2000-01-01T00:00:00Z"
NOT_ALLOWED = "Not allowed: sign in as a member of an organization"


@dataclass(frozen=True)
class World:
    """Organizations A and B, one member each. A has a row in each table (activity new, run
    request valid, run queue in_progress past its deadline, workflow waiting past its deadline),
    B a run queue row in_progress past its deadline; both have history and a factor."""

    a: Member
    b: Member
    a_rows: dict[str, UUID]
    b_stuck: UUID

    def token(self, member: Member) -> dict[str, Any]:
        return {
            "role": "authenticated",
            "sub": str(member.user_id),
            "organization_id": str(member.organization_id),
        }


@pytest.fixture
def world(database: Database, conn: Conn) -> World:
    a = new_member(database)
    b = new_member(database)
    client = EtlClient(database)
    a_rows = {
        "activity_request": new_row(conn, "activity_request", a.organization_id),
        "run_request": new_row(conn, "run_request", a.organization_id),
        "run_queue": new_row(conn, "run_queue", a.organization_id, deadline=PAST),
        "workflow_request": new_row(conn, "workflow_request", a.organization_id, deadline=PAST),
    }
    b_stuck = new_row(conn, "run_queue", b.organization_id, deadline=PAST)
    client.transition("run_request", a_rows["run_request"], EtlState.VALID)
    for row_id in (a_rows["run_queue"], b_stuck):
        for state in (EtlState.VALID, EtlState.READY, EtlState.IN_PROGRESS):
            client.transition("run_queue", row_id, state)
    for state in (EtlState.VALID, EtlState.WAITING):
        client.transition("workflow_request", a_rows["workflow_request"], state)
    for member in (a, b):
        conn.execute(
            "INSERT INTO public.factor (org_id, factor_type, object_type_name, datapoint_name)"
            " VALUES (%s, 'volume', 'company', 'employees')",
            [member.organization_id],
        )
    return World(a, b, a_rows, b_stuck)


def organization_state(conn: Conn, organization: UUID) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of the organization in every table."""
    found = {}
    for table, column in TABLES.items():
        found[table] = (
            int(value(conn, f"SELECT count(*) FROM {table} WHERE {column} = %s", organization)),
            str(
                value(
                    conn,
                    f"SELECT coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM {table} x"
                    f" WHERE x.{column} = %s",
                    organization,
                )
            ),
        )
    return found


# ---------------------------------------------------------------------------------------------
# End users, as PostgREST calls for them
# ---------------------------------------------------------------------------------------------


@contextmanager
def end_users(conn: Conn) -> Iterator[EndUsers]:
    """A role like Supabase's ``authenticated`` (tests/tenants.py), allowed to EXECUTE
    :data:`FUNCTIONS` and, as if granted by mistake, to use etl_api and SELECT :data:`TABLES`."""
    with shared_end_users(conn, FUNCTIONS, tables=TABLES, schemas=["etl_api"]) as users:
        yield users


def next_state(table: str) -> str:
    """An allowed next state of the world's row of A in ``table``."""
    return {
        "activity_request": "valid",
        "run_request": "ready",
        "run_queue": "done",
        "workflow_request": "ready",
    }[table]


# ---------------------------------------------------------------------------------------------
# A member in his own organization (the control)
# ---------------------------------------------------------------------------------------------


def test_a_member_works_on_his_own_organizations_rows(conn: Conn, world: World) -> None:
    a = world.token(world.a)
    with end_users(conn) as users:
        counts = {
            (r["table_name"], r["state"]): r["rows"] for r in users.fetch(a, "etl_api.get_state_counts")
        }
        assert counts == {
            ("activity_request", "new"): 1,
            ("run_request", "valid"): 1,
            ("run_queue", "in_progress"): 1,
            ("workflow_request", "waiting"): 1,
        }
        stuck = users.fetch(a, "etl_api.get_stuck_rows")
        assert {(r["table_name"], r["id"]) for r in stuck} == {
            ("run_queue", world.a_rows["run_queue"]),
            ("workflow_request", world.a_rows["workflow_request"]),
        }
        # His own organization named explicitly is the same.
        named = users.fetch(a, "etl_api.get_stuck_rows", p_organization_id=world.a.organization_id)
        assert len(named) == 2
        moved = users.call(
            a,
            "etl_api.transition_state",
            p_table="activity_request",
            p_id=world.a_rows["activity_request"],
            p_to="valid",
        )
        assert (moved["success"], moved["to"]) == (True, "valid")
        with users.acting(a) as c:
            assert value(c, "SELECT etl_api.mark_timedout(interval '30 minutes')") == 2
        assert (
            value(conn, "SELECT state::text FROM etl_api.run_queue WHERE id = %s", world.b_stuck)
            == "in_progress"
        )
        history = value(
            conn,
            "SELECT array_agg(DISTINCT org_id) FROM etl_api.state_history WHERE row_id = ANY(%s)",
            list(world.a_rows.values()),
        )
        assert history == [world.a.organization_id]
        # Row level security: his own rows, in every table.
        for table, column in TABLES.items():
            assert set(users.select(a, table, column)) == {world.a.organization_id}, table


# ---------------------------------------------------------------------------------------------
# A member of B on A's rows
# ---------------------------------------------------------------------------------------------


def test_a_member_of_another_organization_reaches_none_of_its_rows(conn: Conn, world: World) -> None:
    b = world.token(world.b)
    a_org = world.a.organization_id
    with end_users(conn) as users:
        before = organization_state(conn, a_org)
        missing = users.call(
            b, "etl_api.transition_state", p_table="run_queue", p_id=uuid.uuid4(), p_to="valid"
        )
        assert (missing["error_code"], missing["success"]) == ("23503", False)
        for table, row_id in world.a_rows.items():
            result = users.call(
                b, "etl_api.transition_state", p_table=table, p_id=row_id, p_to=next_state(table)
            )
            expected = {
                **missing,
                "error": f"{table} {row_id} not found",
                "error_detail": result.get("error_detail"),
            }
            leaked = result != expected
            LEDGER.record("sql", f"transition_state {table} of another organization", leaked)
            assert not leaked, result
            named = users.call(
                b,
                "etl_api.transition_state",
                p_table=table,
                p_id=row_id,
                p_to=next_state(table),
                p_organization_id=a_org,
            )
            leaked = (named["success"], named["error_code"], named["error"]) != (
                False,
                "23503",
                "Organization not found",
            )
            LEDGER.record("sql", f"transition_state {table} naming another organization", leaked)
            assert not leaked, named

        counts = users.fetch(b, "etl_api.get_state_counts")
        leaked = {(r["table_name"], r["state"], r["rows"]) for r in counts} != {
            ("run_queue", "in_progress", 1)
        }
        LEDGER.record("sql", "get_state_counts", leaked)
        assert not leaked, counts
        stuck = users.fetch(b, "etl_api.get_stuck_rows", p_limit=1000)
        leaked = [(r["id"], r["org_id"]) for r in stuck] != [(world.b_stuck, world.b.organization_id)]
        LEDGER.record("sql", "get_stuck_rows", leaked)
        assert not leaked, stuck
        for function in ("etl_api.get_state_counts", "etl_api.get_stuck_rows"):
            error = users.error(b, function, p_organization_id=a_org)
            leaked = not isinstance(error, psycopg.errors.ForeignKeyViolation)
            LEDGER.record("sql", f"{function} naming another organization", leaked)
            assert not leaked, error
            assert error is not None
            assert error.diag.message_primary == "Organization not found"

        with users.acting(b) as c:
            moved = value(c, "SELECT etl_api.mark_timedout(interval '1 second')")
        leaked = (
            moved != 1
            or value(
                conn, "SELECT state::text FROM etl_api.run_queue WHERE id = %s", world.a_rows["run_queue"]
            )
            != "in_progress"
        )
        LEDGER.record("sql", "mark_timedout", leaked)
        assert not leaked, moved
        try:
            with users.acting(b) as c:
                c.execute("SELECT etl_api.mark_timedout(interval '1 second', %s)", [a_org])
            refused = None
        except psycopg.errors.ForeignKeyViolation as exc:
            refused = exc
        LEDGER.record("sql", "mark_timedout naming another organization", refused is None)
        assert refused is not None

        for table, column in TABLES.items():
            seen = users.select(b, table, column)
            leaked = a_org in seen
            LEDGER.record("rls", f"{table} read by another organization's member", leaked)
            assert not leaked, table
            assert set(seen) <= {world.b.organization_id}, table
            if table in ("etl_api.org", "etl_api.run_queue", "etl_api.state_history", "public.factor"):
                assert seen, f"{table}: B's own rows are visible to B"

        assert organization_state(conn, a_org) == before


# ---------------------------------------------------------------------------------------------
# No claims, not a member: refused (42501)
# ---------------------------------------------------------------------------------------------


def bad_tokens(world: World) -> dict[str, dict[str, Any] | None]:
    a_org, b_user = str(world.a.organization_id), str(world.b.user_id)
    return {
        "no claims": None,
        "authenticated without a user": {"role": "authenticated"},
        "a user without an organization": {"role": "authenticated", "sub": b_user},
        "a user naming an organization he is not a member of": {
            "role": "authenticated",
            "sub": b_user,
            "organization_id": a_org,
        },
        "an unknown user naming the organization": {
            "role": "authenticated",
            "sub": str(uuid.uuid4()),
            "organization_id": a_org,
        },
        "the organization in user_metadata, which users edit": {
            "role": "authenticated",
            "sub": b_user,
            "user_metadata": {"organization_id": a_org},
        },
    }


def test_no_claims_or_not_a_member_is_refused(conn: Conn, world: World) -> None:
    a_org = world.a.organization_id
    row_id = world.a_rows["activity_request"]
    with end_users(conn) as users:
        before = organization_state(conn, a_org)
        for name, token in bad_tokens(world).items():
            for organization in (None, a_org):
                result = users.call(
                    token,
                    "etl_api.transition_state",
                    p_table="activity_request",
                    p_id=row_id,
                    p_to="valid",
                    p_organization_id=organization,
                )
                leaked = (result["success"], result["error_code"], result["error"]) != (
                    False,
                    "42501",
                    NOT_ALLOWED,
                )
                LEDGER.record("sql", f"transition_state with {name}", leaked)
                assert not leaked, (name, result)
                for function, params in (
                    ("etl_api.get_state_counts", {"p_organization_id": organization}),
                    ("etl_api.get_stuck_rows", {"p_organization_id": organization}),
                    ("etl_api.convert_legacy_status", {"p_table": "run_queue"}),
                ):
                    error = users.error(token, function, **params)
                    leaked = not isinstance(error, psycopg.errors.InsufficientPrivilege)
                    LEDGER.record("sql", f"{function} with {name}", leaked)
                    assert not leaked, (name, function, error)
                try:
                    with users.acting(token) as c:
                        c.execute("SELECT etl_api.mark_timedout(interval '1 second', %s)", [organization])
                    refused = False
                except psycopg.errors.InsufficientPrivilege:
                    refused = True
                LEDGER.record("sql", f"mark_timedout with {name}", not refused)
                assert refused, name
            for table, column in TABLES.items():
                seen = users.select(token, table, column)
                LEDGER.record("rls", f"{table} read with {name}", bool(seen))
                assert seen == [], (name, table)
        assert organization_state(conn, a_org) == before
        assert value(conn, "SELECT count(*) FROM etl_api.state_history WHERE row_id = %s", row_id) == 0


def test_convert_legacy_status_is_the_services_only(conn: Conn, world: World) -> None:
    with end_users(conn) as users:
        error = users.error(world.token(world.a), "etl_api.convert_legacy_status", p_table="run_queue")
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), error
    assert error.diag.message_primary == "Not allowed: only the service converts legacy statuses"


# ---------------------------------------------------------------------------------------------
# The service confined to an organization (the HTTP API passes its caller's)
# ---------------------------------------------------------------------------------------------


def test_the_service_confined_to_an_organization(database: Database, conn: Conn, world: World) -> None:
    client = EtlClient(database)
    a_org, b_org = world.a.organization_id, world.b.organization_id
    before = organization_state(conn, a_org)
    for table, row_id in world.a_rows.items():
        with pytest.raises(ReferencedRecordNotFoundError, match=f"{table} {row_id} not found"):
            client.transition(table, row_id, next_state(table), organization_id=b_org)
        LEDGER.record("sql", f"service transition_state {table} confined to another organization", False)
    counts = client.state_counts(b_org)
    LEDGER.record("sql", "service get_state_counts confined", len(counts) != 1)
    assert [(c.table_name.value, c.state.value, c.rows) for c in counts] == [("run_queue", "in_progress", 1)]
    stuck = client.stuck_rows(organization_id=b_org)
    LEDGER.record("sql", "service get_stuck_rows confined", [r.id for r in stuck] != [world.b_stuck])
    assert [(r.id, r.org_id) for r in stuck] == [(world.b_stuck, b_org)]
    assert client.mark_timedout(timedelta(seconds=1), organization_id=b_org) == 1
    LEDGER.record("sql", "service mark_timedout confined", organization_state(conn, a_org) != before)
    assert organization_state(conn, a_org) == before
    # Without an organization, the service acts across them (workers, the CLI).
    assert {r.org_id for r in client.stuck_rows()} == {a_org}  # B's was timed out above
    assert (
        client.transition("activity_request", world.a_rows["activity_request"], "valid").to_state
        is EtlState.VALID
    )


# ---------------------------------------------------------------------------------------------
# Upgrading a database with ETL data (20261202040300_etl_tenancy)
# ---------------------------------------------------------------------------------------------


def test_etl_data_upgrades_into_organizations(empty_db_url: str) -> None:
    """A database as issue 5 left it, with ETL data: after the upgrade every organization has its
    etl_api.org row, a factor without an organization and history of a row that no longer exists
    belong to the default organization, every other history row to its row's organization."""
    with psycopg.connect(empty_db_url, autocommit=True) as landed:
        MigrationRunner(
            landed, [m for m in as_landed(discover()) if m.version <= "20261123030300"], current=[]
        ).upgrade()
        acme = value(landed, "INSERT INTO etl_api.org (name) VALUES ('Acme ETL') RETURNING id")
        activity = value(
            landed,
            "INSERT INTO etl_api.activity_request (org_id, activity_type) VALUES (%s, 'enrich') RETURNING id",
            acme,
        )
        assert value(landed, "SELECT etl_api.transition_state('activity_request', %s, 'valid')", activity)[
            "success"
        ]
        gone = uuid.uuid4()
        landed.execute(
            "INSERT INTO etl_api.state_history (table_name, row_id, from_state, to_state)"
            " VALUES ('run_queue', %s, 'new', 'valid')",
            [gone],
        )
        owned = value(
            landed,
            "INSERT INTO public.factor (org_id, factor_type, object_type_name, datapoint_name)"
            " VALUES (%s, 'volume', 'company', 'employees') RETURNING id",
            acme,
        )
        unowned = value(
            landed,
            "INSERT INTO public.factor (factor_type, object_type_name, datapoint_name)"
            " VALUES ('boolean', 'company', 'public') RETURNING id",
        )
        value(landed, "SELECT create_app_user('ann@example.com', 'Ann')")

        MigrationRunner(landed).upgrade()

        default = value(landed, "SELECT id FROM public.organizations WHERE is_default")
        assert rows(landed, "SELECT id, name FROM public.organizations ORDER BY id") == rows(
            landed, "SELECT id, name FROM etl_api.org ORDER BY id"
        )
        assert value(landed, "SELECT count(*) FROM public.organizations") == 3  # default, Acme ETL, Ann's
        assert value(landed, "SELECT org_id FROM public.factor WHERE id = %s", owned) == acme
        assert value(landed, "SELECT org_id FROM public.factor WHERE id = %s", unowned) == default
        assert value(landed, "SELECT org_id FROM etl_api.state_history WHERE row_id = %s", activity) == acme
        assert value(landed, "SELECT org_id FROM etl_api.state_history WHERE row_id = %s", gone) == default
        # The upgraded engine works on the old rows, and a new organization gets its row at once.
        moved = value(
            landed,
            "SELECT etl_api.transition_state('activity_request', %s, 'ready', p_organization_id => %s)",
            activity,
            acme,
        )
        assert moved["success"], moved
        new = value(landed, "SELECT public.create_organization('After the upgrade')")["organization_id"]
        assert value(landed, "SELECT name FROM etl_api.org WHERE id = %s", new) == "After the upgrade"
