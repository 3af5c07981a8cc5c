"""update_email_verification: one audit row per call, the status written wherever the email came
from, the seed's shape and Bouncer's response accepted as they are."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from leadledger.db import Database, ReferencedRecordNotFoundError
from tests.campaigns.conftest import (
    SEED_BUSINESS,
    UNKNOWN_ID,
    Conn,
    Seed,
    add_businesses,
    apify_item,
    assert_rejected,
    business,
    business_id,
    call_sql,
    jsonb_equal,
    ok,
    one,
    resolve,
    rows,
    table_counts,
    value,
)

#: A Bouncer /v1.1/email/verify response, verbatim.
BOUNCER: dict[str, Any] = {
    "email": "john@example.com",
    "status": "deliverable",
    "reason": "accepted_email",
    "domain": {"name": "example.com", "acceptAll": "no", "disposable": "no", "free": "no"},
    "account": {"role": "no", "disabled": "no", "fullMailbox": "no"},
    "dns": {"type": "MX", "record": "mx.example.com"},
    "provider": "google.com",
    "score": 100,
    "toxic": "unknown",
    "toxicity": 0,
}

STATE = """
SELECT b.email_verification_status AS business_status, b.email_is_safe, b.updated_at AS business_updated_at,
       f.email_verification_status AS facebook_status, f.updated_at AS facebook_updated_at,
       l.email_verification_status AS linkedin_status, l.updated_at AS linkedin_updated_at
  FROM gmaps_businesses b
  LEFT JOIN gmaps_facebook_enrichments f ON f.business_id = b.id
  LEFT JOIN gmaps_linkedin_enrichments l ON l.business_id = b.id
 WHERE b.id = %s
"""


def google_business(pg: Conn, campaign: str, email: str = "john@example.com") -> str:
    add_businesses(pg, campaign, [apify_item("p1", 1, emails=[email])])
    return business_id(pg, campaign, "p1")


def audit_rows(pg: Conn, bid: str) -> list[dict[str, Any]]:
    return rows(
        pg,
        "SELECT email, status, is_safe, reason, score, sources, provider, raw_response, campaign_id::text"
        " FROM gmaps_email_verifications WHERE business_id = %s ORDER BY verified_at, id",
        bid,
    )


def test_the_seed_shape_updates_the_business_and_writes_one_audit_row(pg: Conn, campaign: str) -> None:
    bid = google_business(pg, campaign)
    data = {"status": "risky", "is_safe": False, "reason": "low_deliverability", "score": 55.5}
    result = call_sql(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email=" John@Example.COM ",
        p_verification_data=data,
    )
    assert result == {
        "success": True,
        "business_id": bid,
        "email": "john@example.com",
        "status": "risky",
        "is_safe": False,
        "sources": ["google_maps"],
        "verification_id": result["verification_id"],
    }
    stored = business(pg, bid)
    assert (stored["email_verification_status"], stored["email_is_safe"]) == ("risky", False)
    assert audit_rows(pg, bid) == [
        {
            "email": "john@example.com",
            "status": "risky",
            "is_safe": False,
            "reason": "low_deliverability",
            "score": Decimal("55.50"),
            "sources": ["google_maps"],
            "provider": None,
            "raw_response": data,
            "campaign_id": campaign,
        }
    ]


def test_a_bouncer_response_is_accepted_as_it_is(pg: Conn, campaign: str) -> None:
    bid = google_business(pg, campaign)
    result = ok(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email="john@example.com",
        p_verification_data=BOUNCER,
    )
    assert (result["status"], result["is_safe"], result["sources"]) == ("deliverable", True, ["google_maps"])
    audit = audit_rows(pg, bid)[0]
    assert (audit["status"], audit["is_safe"], audit["reason"], audit["score"], audit["provider"]) == (
        "deliverable",
        True,
        "accepted_email",
        Decimal("100"),
        "google.com",
    )
    assert jsonb_equal(
        pg, f"SELECT raw_response FROM gmaps_email_verifications WHERE business_id = '{bid}'", BOUNCER
    )
    assert business(pg, bid)["email_verification_status"] == "deliverable"


FLAGS: list[tuple[str, ...]] = [
    ("domain", "disposable"),
    ("account", "disabled"),
    ("account", "fullMailbox"),
    ("toxic",),
]
UNSAFE_VALUES: list[Any] = ["yes", "Yes", True, "true"]
SAFE_VALUES: list[Any] = ["no", False, "false", "unknown", None]


def with_flag(path: tuple[str, ...], flag: Any) -> dict[str, Any]:
    data = copy.deepcopy(BOUNCER)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = flag
    return data


@pytest.mark.parametrize("path", FLAGS, ids=[".".join(p) for p in FLAGS])
def test_bouncer_flags_read_yes_and_true_as_true(
    shared: Conn, shared_campaign: str, path: tuple[str, ...]
) -> None:
    bid = google_business(shared, shared_campaign)
    for flag in UNSAFE_VALUES + SAFE_VALUES:
        result = ok(
            shared,
            "update_email_verification",
            p_business_id=bid,
            p_email="john@example.com",
            p_verification_data=with_flag(path, flag),
        )
        assert result["is_safe"] is (flag in SAFE_VALUES), (path, flag)
        assert business(shared, bid)["email_is_safe"] is result["is_safe"]
    assert len(audit_rows(shared, bid)) == len(UNSAFE_VALUES) + len(SAFE_VALUES)


@pytest.mark.parametrize(
    ("given", "stored", "is_safe"),
    [
        ("deliverable", "deliverable", True),
        ("DELIVERABLE", "deliverable", True),
        ("valid", "deliverable", True),
        ("risky", "risky", False),
        ("catch_all", "risky", False),
        ("accept_all", "risky", False),
        ("undeliverable", "undeliverable", False),
        ("invalid", "undeliverable", False),
        ("unknown", "unknown", False),
    ],
)
def test_status_synonyms(shared: Conn, shared_campaign: str, given: str, stored: str, is_safe: bool) -> None:
    bid = google_business(shared, shared_campaign)
    result = ok(
        shared,
        "update_email_verification",
        p_business_id=bid,
        p_email="john@example.com",
        p_verification_data={"status": given},
    )
    assert (result["status"], result["is_safe"]) == (stored, is_safe)
    assert (business(shared, bid)["email_verification_status"], audit_rows(shared, bid)[0]["status"]) == (
        stored,
        stored,
    )


def test_an_explicit_is_safe_wins_over_the_computed_one(pg: Conn, campaign: str) -> None:
    bid = google_business(pg, campaign)
    result = ok(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email="john@example.com",
        p_verification_data={**with_flag(("domain", "disposable"), "yes"), "is_safe": True},
    )
    assert result["is_safe"] is True


def enriched_business(pg: Conn, campaign: str) -> str:
    """Google email g@, Facebook primary f@ (also listing extra@), LinkedIn primary l@ (the best)."""
    bid = google_business(pg, campaign, "g@example.com")
    ok(
        pg,
        "save_facebook_enrichment",
        p_business_id=bid,
        p_campaign_id=campaign,
        p_enrichment={"primary_email": "f@example.com", "emails": ["f@example.com", "extra@example.com"]},
    )
    ok(
        pg,
        "save_linkedin_enrichment",
        p_business_id=bid,
        p_campaign_id=campaign,
        p_enrichment={"primary_email": "l@example.com"},
    )
    assert business(pg, bid)["email"] == "l@example.com"
    return bid


@pytest.mark.parametrize(
    ("email", "sources", "business_status", "facebook_status", "linkedin_status"),
    [
        (
            "l@example.com",
            ["linkedin"],
            "undeliverable",
            None,
            "undeliverable",
        ),  # the business's and LinkedIn's
        ("f@example.com", ["facebook"], None, "undeliverable", None),
        # Only among Facebook's other emails: no status was set anywhere, so no source (issue 8).
        ("extra@example.com", [], None, None, None),
        ("g@example.com", [], None, None, None),  # replaced by better sources: only the audit row
        ("nobody@example.com", [], None, None, None),
    ],
)
def test_the_status_is_written_where_the_email_came_from(
    shared: Conn,
    shared_campaign: str,
    email: str,
    sources: list[str],
    business_status: str | None,
    facebook_status: str | None,
    linkedin_status: str | None,
) -> None:
    bid = enriched_business(shared, shared_campaign)
    result = ok(
        shared,
        "update_email_verification",
        p_business_id=bid,
        p_email=email,
        p_verification_data={"status": "invalid"},
    )
    assert result["sources"] == sources
    state = one(shared, STATE, bid)
    assert (state["business_status"], state["facebook_status"], state["linkedin_status"]) == (
        business_status,
        facebook_status,
        linkedin_status,
    )
    assert [(a["email"], a["sources"]) for a in audit_rows(shared, bid)] == [(email, sources)]


def test_a_google_maps_email_that_is_also_the_facebook_primary_lists_both_sources(
    pg: Conn, campaign: str
) -> None:
    bid = google_business(pg, campaign, "same@example.com")
    ok(
        pg,
        "save_facebook_enrichment",
        p_business_id=bid,
        p_campaign_id=campaign,
        p_enrichment={"primary_email": "same@example.com"},
    )
    assert business(pg, bid)["email_source"] == "facebook"  # facebook now holds it
    result = ok(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email="same@example.com",
        p_verification_data={"status": "deliverable"},
    )
    assert result["sources"] == ["facebook"]
    state = one(pg, STATE, bid)
    assert (state["business_status"], state["facebook_status"]) == ("deliverable", "deliverable")


def test_a_replay_changes_nothing_but_adds_an_audit_row(pg: Conn, campaign: str) -> None:
    bid = enriched_business(pg, campaign)
    ok(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email="l@example.com",
        p_verification_data=BOUNCER,
    )
    before = one(pg, STATE, bid)
    business_before = business(pg, bid)
    linkedin_before = one(pg, "SELECT * FROM gmaps_linkedin_enrichments WHERE business_id = %s", bid)

    ok(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email="l@example.com",
        p_verification_data=BOUNCER,
    )
    assert one(pg, STATE, bid) == before
    assert business(pg, bid) == business_before
    assert one(pg, "SELECT * FROM gmaps_linkedin_enrichments WHERE business_id = %s", bid) == linkedin_before
    assert len(audit_rows(pg, bid)) == 2

    # A different verdict does change the rows, and their updated_at.
    ok(
        pg,
        "update_email_verification",
        p_business_id=bid,
        p_email="l@example.com",
        p_verification_data={**BOUNCER, "status": "undeliverable"},
    )
    after = one(pg, STATE, bid)
    assert (after["business_status"], after["linkedin_status"]) == ("undeliverable", "undeliverable")
    assert after["business_updated_at"] > before["business_updated_at"]
    assert after["linkedin_updated_at"] > before["linkedin_updated_at"]
    assert after["facebook_updated_at"] == before["facebook_updated_at"]
    assert len(audit_rows(pg, bid)) == 3


def test_the_client_raises_for_an_unknown_business(database: Database, pg: Conn) -> None:
    with pytest.raises(ReferencedRecordNotFoundError, match="Business not found"):
        database.call(
            "update_email_verification",
            p_business_id=UNKNOWN_ID,
            p_email="a@example.com",
            p_verification_data={"status": "deliverable"},
        )
    assert table_counts(pg)["gmaps_email_verifications"] == 0
    assert value(pg, "SELECT count(*) FROM gmaps_email_verifications") == 0


DATA = {"status": "deliverable"}

BAD_INPUTS: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    ("business-null", {"p_business_id": None}, "p_business_id", "is required", "22023"),
    ("business-unknown", {"p_business_id": UNKNOWN_ID}, None, "Business not found", "23503"),
    ("email-null", {"p_email": None}, "p_email", "got nothing", "22023"),
    ("email-empty", {"p_email": ""}, "p_email", "must be an email address", "22023"),
    ("email-invalid", {"p_email": "john at example.com"}, "p_email", "must be an email address", "22023"),
    ("email-no-domain", {"p_email": "john@"}, "p_email", "must be an email address", "22023"),
    ("data-null", {"p_verification_data": None}, "p_verification_data", "must be a JSON object", "22023"),
    ("data-array", {"p_verification_data": [DATA]}, "p_verification_data", "must be a JSON object", "22023"),
    ("data-string", {"p_verification_data": Jsonb("ok")}, "p_verification_data", "JSON object", "22023"),
    (
        "status-missing",
        {"p_verification_data": {"score": 1}},
        "p_verification_data.status",
        "is required",
        "22023",
    ),
    (
        "status-number",
        {"p_verification_data": {"status": 1}},
        "p_verification_data.status",
        "string",
        "22023",
    ),
    (
        "status-unknown",
        {"p_verification_data": {"status": "ok"}},
        "p_verification_data.status",
        "got 'ok'",
        "22023",
    ),
    (
        "is-safe-text",
        {"p_verification_data": {**DATA, "is_safe": "yes"}},
        "p_verification_data.is_safe",
        "",
        "22023",
    ),
    (
        "score-text",
        {"p_verification_data": {**DATA, "score": "100"}},
        "p_verification_data.score",
        "number",
        "22023",
    ),
    (
        "score-high",
        {"p_verification_data": {**DATA, "score": 101}},
        "p_verification_data.score",
        "0 and 100",
        "22023",
    ),
    (
        "score-neg",
        {"p_verification_data": {**DATA, "score": -1}},
        "p_verification_data.score",
        "0 and 100",
        "22023",
    ),
    (
        "score-huge",
        {"p_verification_data": {**DATA, "score": 1e6}},
        "p_verification_data.score",
        "0 and 100",
        "22023",
    ),
    (
        "reason-number",
        {"p_verification_data": {**DATA, "reason": 5}},
        "p_verification_data.reason",
        "string",
        "22023",
    ),
    (
        "provider-obj",
        {"p_verification_data": {**DATA, "provider": {}}},
        "p_verification_data.provider",
        "",
        "22023",
    ),
    (
        "domain-number",
        {"p_verification_data": {**DATA, "domain": 5}},
        "p_verification_data.domain",
        "the domain name (a string) or Bouncer's domain details",
        "22023",
    ),
    (
        "disposable-string",
        {"p_verification_data": {**DATA, "is_disposable": "no"}},
        "p_verification_data.is_disposable",
        "true or false",
        "22023",
    ),
    (
        "raw-response-array",
        {"p_verification_data": {**DATA, "raw_response": []}},
        "p_verification_data.raw_response",
        "a JSON object",
        "22023",
    ),
    (
        "account-array",
        {"p_verification_data": {**DATA, "account": []}},
        "p_verification_data.account",
        "",
        "22023",
    ),
]


@pytest.mark.parametrize(
    ("params", "field", "fragment", "code"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_rejected_and_writes_nothing(
    shared: Conn, shared_seed: Seed, params: dict[str, Any], field: str | None, fragment: str, code: str
) -> None:
    call = resolve(
        shared_seed,
        {
            "p_business_id": SEED_BUSINESS,
            "p_email": "li@seed.example.com",
            "p_verification_data": DATA,
            **params,
        },
    )
    assert_rejected(shared, "update_email_verification", field, fragment, code=code, **call)
