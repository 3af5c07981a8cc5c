"""The campaign state machine: is_valid_status_transition and transition_campaign_status."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from leadledger.db import BusinessRuleError, Database
from tests.campaigns.conftest import (
    PATH_TO,
    STATUSES,
    UNKNOWN_ID,
    VALID_TRANSITIONS,
    Conn,
    Seed,
    add_businesses,
    apify_item,
    assert_rejected,
    call_sql,
    drive_to,
    new_campaign,
    ok,
    one,
    rows,
    value,
)

CAMPAIGN = """
SELECT status, status_reason, status_changed_at, started_at, completed_at, updated_at
  FROM gmaps_campaigns WHERE id = %s
"""


def test_is_valid_status_transition_is_exactly_the_documented_machine(shared: Conn) -> None:
    candidates = [*STATUSES, "archived", "", None]
    found = {
        (a, b)
        for a in candidates
        for b in candidates
        if value(shared, "SELECT is_valid_status_transition(%s, %s)", a, b) is True
    }
    assert found == VALID_TRANSITIONS
    # Never NULL, even for NULL input.
    assert value(shared, "SELECT is_valid_status_transition(NULL, NULL)") is False


def test_draft_to_running_to_completed(pg: Conn, campaign: str) -> None:
    result = call_sql(
        pg,
        "transition_campaign_status",
        p_campaign_id=campaign,
        p_new_status="running",
        p_reason="scraper started",
    )
    assert result == {
        "success": True,
        "campaign_id": campaign,
        "from_status": "draft",
        "to_status": "running",
        "reason": "scraper started",
        "changed_at": result["changed_at"],
    }
    running = one(pg, CAMPAIGN, campaign)
    assert (running["status"], running["status_reason"]) == ("running", "scraper started")
    assert running["started_at"] == running["status_changed_at"] == running["updated_at"]
    assert running["completed_at"] is None

    ok(pg, "transition_campaign_status", p_campaign_id=campaign, p_new_status="paused")
    ok(pg, "transition_campaign_status", p_campaign_id=campaign, p_new_status="running", p_reason="resumed")
    resumed = one(pg, CAMPAIGN, campaign)
    assert resumed["started_at"] == running["started_at"]  # the first start is kept
    assert resumed["status_changed_at"] > running["status_changed_at"]

    ok(pg, "transition_campaign_status", p_campaign_id=campaign, p_new_status="completed")
    done = one(pg, CAMPAIGN, campaign)
    assert (done["status"], done["status_reason"]) == ("completed", None)
    assert done["completed_at"] == done["status_changed_at"]

    history = rows(
        pg,
        "SELECT from_status, to_status, reason FROM gmaps_campaign_status_history WHERE campaign_id = %s"
        " ORDER BY changed_at, id",
        campaign,
    )
    assert history == [
        {"from_status": "draft", "to_status": "running", "reason": "scraper started"},
        {"from_status": "running", "to_status": "paused", "reason": None},
        {"from_status": "paused", "to_status": "running", "reason": "resumed"},
        {"from_status": "running", "to_status": "completed", "reason": None},
    ]


def test_the_client_raises_business_rule_error(database: Database, campaign: str) -> None:
    database.call("transition_campaign_status", p_campaign_id=campaign, p_new_status="cancelled")
    with pytest.raises(BusinessRuleError) as info:
        database.call("transition_campaign_status", p_campaign_id=campaign, p_new_status="running")
    assert info.value.message == "Invalid status transition from cancelled to running"
    assert info.value.error_code == "P0001"


PAIRS = [(a, b) for a in STATUSES for b in STATUSES]


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_every_pair_of_states(shared: Conn, shared_seed: Seed, current: str, target: str) -> None:
    campaign = new_campaign(shared, f"{current} to {target}")
    drive_to(shared, campaign, current)
    history = value(
        shared, "SELECT count(*) FROM gmaps_campaign_status_history WHERE campaign_id = %s", campaign
    )
    assert history == len(PATH_TO[current])
    if (current, target) in VALID_TRANSITIONS:
        result = ok(shared, "transition_campaign_status", p_campaign_id=campaign, p_new_status=target)
        assert (result["from_status"], result["to_status"]) == (current, target)
        assert one(shared, CAMPAIGN, campaign)["status"] == target
        final = target in ("completed", "failed", "cancelled")
        assert (one(shared, CAMPAIGN, campaign)["completed_at"] is not None) is final
    else:
        assert_rejected(
            shared,
            "transition_campaign_status",
            None,
            f"Invalid status transition from {current} to {target}",
            code="P0001",
            p_campaign_id=campaign,
            p_new_status=target,
        )
        assert one(shared, CAMPAIGN, campaign)["status"] == current


BAD_INPUTS: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    ("campaign-null", {"p_campaign_id": None}, "p_campaign_id", "is required", "22023"),
    ("campaign-unknown", {"p_campaign_id": UNKNOWN_ID}, None, "Campaign not found", "23503"),
    ("status-null", {"p_new_status": None}, "p_new_status", "got nothing", "22023"),
    ("status-unknown", {"p_new_status": "archived"}, "p_new_status", "got 'archived'", "22023"),
    ("status-empty", {"p_new_status": ""}, "p_new_status", "must be one of", "22023"),
    ("status-case", {"p_new_status": "Running"}, "p_new_status", "got 'Running'", "22023"),
]


@pytest.mark.parametrize(
    ("params", "field", "fragment", "code"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_rejected_and_writes_nothing(
    shared: Conn, shared_seed: Seed, params: dict[str, Any], field: str | None, fragment: str, code: str
) -> None:
    call = {"p_campaign_id": shared_seed.campaign_id, "p_new_status": "running", "p_reason": "x", **params}
    assert_rejected(shared, "transition_campaign_status", field, fragment, code=code, **call)


def test_a_transition_does_not_wait_for_an_open_business_batch(pg: Conn, db_url: str) -> None:
    """A batch that is still inserting businesses holds FOR KEY SHARE on its campaign (the foreign
    key); pausing the campaign meanwhile must not queue behind it (FOR NO KEY UPDATE)."""
    campaign = new_campaign(pg)
    ok(pg, "transition_campaign_status", p_campaign_id=campaign, p_new_status="running")
    with psycopg.connect(db_url) as batch:  # not autocommit: the batch's transaction stays open
        add_businesses(batch, campaign, [apify_item("ChIJopen", 1)])
        pg.execute("SET lock_timeout = '1s'")
        try:
            paused = call_sql(pg, "transition_campaign_status", p_campaign_id=campaign, p_new_status="paused")
        finally:
            pg.execute("RESET lock_timeout")
        assert paused["success"] is True, paused
        batch.rollback()
    assert value(pg, "SELECT status FROM gmaps_campaigns WHERE id = %s", campaign) == "paused"
