"""WhatsApp numbers belong to organizations (issue 10): link_whatsapp_number (the organization,
the member whose the number's new leads are, where its access token is), whatsapp_number_owner
(where an incoming message lands), list_whatsapp_numbers (what the organization sends from), and
find_lead_by_phone within an organization."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.leads.conftest import (
    Conn,
    Seed,
    assert_failed,
    fetch_sql,
    new_lead,
    ok,
    one,
    organization_of,
    phone,
)


def member_of(conn: Conn, organization_id: str) -> str:
    email = f"m-{uuid.uuid4().hex[:8]}@example.com"
    return str(ok(conn, "create_app_user", p_email=email, p_organization_id=organization_id)["user_id"])


def test_a_number_belongs_to_an_organization_and_names_where_its_token_is(pg: Conn, user_id: str) -> None:
    organization = organization_of(pg, user_id)
    linked = ok(
        pg,
        "link_whatsapp_number",
        p_user_id=user_id,
        p_phone_number_id="106540352242922",
        p_display_phone="+1 555",
        p_access_token_ref="env:CLINIC_WA_TOKEN",
    )
    assert (linked["organization_id"], linked["user_id"]) == (organization, user_id)
    stored = one(pg, "SELECT organization_id::text, user_id::text, access_token_ref FROM whatsapp_numbers")
    assert stored == {
        "organization_id": organization,
        "user_id": user_id,
        "access_token_ref": "env:CLINIC_WA_TOKEN",
    }
    [owner] = fetch_sql(pg, "whatsapp_number_owner", p_phone_number_id="106540352242922")
    assert (str(owner["organization_id"]), str(owner["user_id"])) == (organization, user_id)
    [listed] = fetch_sql(pg, "list_whatsapp_numbers", p_organization_id=organization)
    assert (listed["phone_number_id"], listed["access_token_ref"]) == (
        "106540352242922",
        "env:CLINIC_WA_TOKEN",
    )

    # Linking again: another member of the same organization may take over its new leads; the
    # reference and the display number stay unless given.
    colleague = member_of(pg, organization)
    ok(pg, "link_whatsapp_number", p_user_id=colleague, p_phone_number_id="106540352242922")
    again = one(pg, "SELECT user_id::text, display_phone, access_token_ref FROM whatsapp_numbers")
    assert again == {
        "user_id": colleague,
        "display_phone": "+1 555",
        "access_token_ref": "env:CLINIC_WA_TOKEN",
    }
    ok(pg, "link_whatsapp_number", p_user_id=colleague, p_phone_number_id="106540352242922",
       p_access_token_ref="env:OTHER")  # fmt: skip
    assert one(pg, "SELECT access_token_ref FROM whatsapp_numbers")["access_token_ref"] == "env:OTHER"


def test_relinking_a_number_to_another_organization_is_refused(shared: Conn, seed: Seed) -> None:
    for params in (
        {"p_user_id": seed.other_user_id},
        {"p_user_id": seed.other_user_id, "p_organization_id": seed.other_organization_id},
    ):
        assert_failed(
            shared,
            "link_whatsapp_number",
            code="23505",
            error=f"WhatsApp number {seed.phone_number_id} belongs to another organization",
            p_phone_number_id=seed.phone_number_id,
            p_display_phone="+1 999",
            **params,
        )
    [owner] = fetch_sql(shared, "whatsapp_number_owner", p_phone_number_id=seed.phone_number_id)
    assert str(owner["organization_id"]) == seed.organization_id


@pytest.mark.parametrize(
    ("override", "code", "error"),
    [
        ({"p_access_token_ref": "the-token-itself"}, "22023", "p_access_token_ref: must be env:NAME"),
        ({"p_access_token_ref": "env:"}, "22023", "p_access_token_ref: must be env:NAME"),
        ({"p_access_token_ref": "env:BAD NAME"}, "22023", "p_access_token_ref: must be env:NAME"),
        ({"p_organization_id": "other"}, "23503", "Member not found"),  # a user of another organization
        ({"p_organization_id": "unknown"}, "23503", "Member not found"),
        ({"p_user_id": None}, "22023", "p_user_id: is required"),
    ],
)
def test_link_whatsapp_number_refused(
    shared: Conn, seed: Seed, override: dict[str, Any], code: str, error: str
) -> None:
    organizations = {"other": seed.other_organization_id, "unknown": str(uuid.uuid4())}
    params: dict[str, Any] = {"p_user_id": seed.user_id, "p_phone_number_id": "5550001", **override}
    if "p_organization_id" in override:
        params["p_organization_id"] = organizations[override["p_organization_id"]]
    result = assert_failed(shared, "link_whatsapp_number", code=code, **params)
    assert result["error"].startswith(error), result


def test_numbers_are_listed_per_organization_and_confined(shared: Conn, seed: Seed) -> None:
    listed = fetch_sql(shared, "list_whatsapp_numbers", p_organization_id=seed.organization_id)
    assert [r["phone_number_id"] for r in listed] == [seed.phone_number_id]
    assert fetch_sql(shared, "list_whatsapp_numbers", p_organization_id=seed.other_organization_id) == []
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="p_organization_id: is required"):
        fetch_sql(shared, "list_whatsapp_numbers")
    confined = fetch_sql(
        shared,
        "whatsapp_number_owner",
        p_phone_number_id=seed.phone_number_id,
        p_organization_id=seed.other_organization_id,
    )
    assert confined == []


def test_find_lead_by_phone_finds_the_organizations_lead_whoever_made_it(pg: Conn, user_id: str) -> None:
    organization = organization_of(pg, user_id)
    colleague = member_of(pg, organization)
    created = new_lead(pg, user_id, phone(1), "Ana")
    for acting in (user_id, colleague):
        found = fetch_sql(pg, "find_lead_by_phone", p_user_id=acting, p_phone=phone(1))
        assert [str(r["lead_id"]) for r in found] == [created["lead_id"]]
    for nobody in (None, str(uuid.uuid4())):
        assert fetch_sql(pg, "find_lead_by_phone", p_user_id=nobody, p_phone=phone(1)) == []
    # the service naming another organization finds nothing of this one
    other = str(ok(pg, "create_organization", p_name="Other")["organization_id"])
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="Member not found"):
        fetch_sql(pg, "find_lead_by_phone", p_user_id=user_id, p_phone=phone(1), p_organization_id=other)


def test_messages_to_a_number_whose_member_left_still_land_in_its_organization(
    pg: Conn, user_id: str
) -> None:
    organization = organization_of(pg, user_id)
    colleague = member_of(pg, organization)
    ok(pg, "link_whatsapp_number", p_user_id=colleague, p_phone_number_id="106540352242923")
    pg.execute("DELETE FROM organization_members WHERE user_id = %s", (colleague,))  # he leaves
    [owner] = fetch_sql(pg, "whatsapp_number_owner", p_phone_number_id="106540352242923")
    assert (str(owner["user_id"]), str(owner["organization_id"])) == (user_id, organization)  # its owner
    landed = ok(
        pg,
        "record_whatsapp_message",
        p_user_id=owner["user_id"],
        p_wa_message_id="wamid.after-leaving",
        p_from_phone=phone(3),
        p_body="hello",
        p_organization_id=organization,
    )
    assert one(
        pg, "SELECT organization_id::text, user_id::text FROM leads WHERE id = %s", landed["lead_id"]
    ) == {
        "organization_id": organization,
        "user_id": user_id,
    }
