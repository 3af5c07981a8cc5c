"""Every error answer of the API has one body shape, ``{"error", "error_code", ...optional
fields}``, built by leadledger.api.errors alone; every 503 carries Retry-After (D43)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from leadledger.api import create_app
from leadledger.api.errors import RULES, ErrorRule
from leadledger.api.pagination import KeysetPosition, OffsetPosition, encode_cursor
from leadledger.db import Database
from leadledger.leads.client import LeadsClient
from leadledger.leads.fake_whatsapp import FakeWhatsAppServer, message_payload
from leadledger.leads.whatsapp import sign
from tests.conftest import make_settings
from tests.tenants import new_member

APP_SECRET = "test-app-secret"
JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"
PHONE_NUMBER_ID = "100200300400"
CLOSED = "postgresql://postgres@127.0.0.1:1/x"  # nothing listens there

#: The optional fields an error body may carry besides error and error_code.
OPTIONAL_FIELDS = {"errors", "sent", "wa_message_id", "whatsapp_status", "details"}


def assert_error(
    response: httpx.Response, status: int, code: str | None = None, *, extra: set[str] | None = None
) -> dict[str, Any]:
    """``response`` is ``status`` with the one error body; ``extra``: exactly these optional fields."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str), body
    assert body["error"]
    assert isinstance(body.get("error_code"), str), body
    assert body["error_code"]
    if code is not None:
        assert body["error_code"] == code, body
    if extra is not None:
        assert set(body) == {"error", "error_code"} | extra, body
    if "errors" in body:
        assert body["errors"], body
        for item in body["errors"]:
            assert set(item) == {"field", "message"}, item
    if status in (429, 503):
        assert int(response.headers["Retry-After"]) >= 1
    else:
        assert "Retry-After" not in response.headers
    return body


@dataclass
class Env:
    api: TestClient
    user_id: UUID
    key: str
    fake: FakeWhatsAppServer

    @property
    def auth(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def webhook(self, body: bytes, secret: str = APP_SECRET) -> httpx.Response:
        return self.api.post(
            "/api/webhooks/whatsapp",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, body)},
        )


@pytest.fixture
def env(db_url: str, database: Database) -> Iterator[Env]:
    user = new_member(database, f"errors-{uuid4().hex[:6]}@example.com", "Errors")
    key = user.key
    LeadsClient(database).link_whatsapp_number(user.user_id, PHONE_NUMBER_ID)
    with FakeWhatsAppServer(token="wa-token") as fake:
        settings = make_settings(
            db_url,
            jwt_secret=SecretStr(JWT_SECRET),
            whatsapp_app_secret=SecretStr(APP_SECRET),
            whatsapp_verify_token=SecretStr("verify-me"),
            whatsapp_api_base_url=fake.base_url,
            whatsapp_phone_number_id=PHONE_NUMBER_ID,
            whatsapp_access_token=SecretStr("wa-token"),
        )
        with TestClient(create_app(settings, database_url=db_url)) as api:
            yield Env(api, user.user_id, key, fake)


def jwt_for(user_id: UUID) -> str:
    claims = {
        "sub": str(user_id),
        "organization_id": str(uuid4()),
        "aud": "authenticated",
        "exp": int(time.time()) + 600,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def new_campaign(env: Env, **overrides: Any) -> str:
    body = {"name": "Austin dentists", "zip_codes": [{"zip_code": "78701"}], **overrides}
    response = env.api.post("/api/campaigns", headers=env.auth, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["campaign_id"])


# -- every route ---------------------------------------------------------------------------------


def test_every_route_answers_every_error_in_the_one_shape(env: Env) -> None:
    """Each route of the app (as its OpenAPI document lists them), asked without credentials,
    with a body that is not JSON, and with a method it does not take: every non-2xx answer has
    the one shape."""
    paths: dict[str, dict[str, Any]] = env.api.app.openapi()["paths"]  # type: ignore[attr-defined]
    assert sum(len(methods) for methods in paths.values()) >= 20
    values = {
        "campaign_id": uuid4(),
        "lead_id": uuid4(),
        "business_id": uuid4(),
        "enrichment_type": "facebook",
        "zip_code": "78701",
        "user_id": uuid4(),
        "api_key_id": uuid4(),
    }
    for template, operations in paths.items():
        path = template.format(**values)
        for method in operations:
            response = env.api.request(
                method, path, content=b"{not json", headers={"Content-Type": "application/json"}
            )
            if template == "/api/health":
                assert response.status_code == 200
                continue
            assert response.status_code >= 400, (method, path, response.text)
            assert_error(response, response.status_code)
        unused = sorted({"get", "post", "put", "delete", "patch"} - set(operations))
        assert_error(env.api.request(unused[0], path), 405, "method_not_allowed", extra=set())


def test_401_without_credentials(env: Env) -> None:
    for method, path in (
        ("get", "/api/leads"),
        ("post", "/api/leads"),
        ("get", "/api/campaigns"),
        ("post", "/api/whatsapp"),
        ("get", f"/api/leads/{uuid4()}"),
    ):
        response = env.api.request(method, path, json={})
        assert_error(response, 401, "unauthorized", extra=set())
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = env.api.get("/api/campaigns", headers={"X-API-Key": "llk_unknown"})
    assert assert_error(wrong, 401, "unauthorized", extra=set())["error"] == "unknown or revoked API key"


def test_404_unknown_route_and_unknown_ids(env: Env) -> None:
    assert_error(env.api.get("/api/nothing-here", headers=env.auth), 404, "not_found", extra=set())
    assert_error(env.api.get(f"/api/campaigns/{uuid4()}", headers=env.auth), 404, extra=set())
    assert_error(env.api.get(f"/api/leads/{uuid4()}", headers=env.auth), 404, extra=set())
    assert_error(env.api.delete(f"/api/leads/{uuid4()}", headers=env.auth), 404, extra=set())


def test_405_wrong_method(env: Env) -> None:
    response = env.api.delete("/api/campaigns", headers=env.auth)
    assert_error(response, 405, "method_not_allowed", extra=set())
    assert response.headers["Allow"]
    assert_error(env.api.put("/api/whatsapp", headers=env.auth), 405, "method_not_allowed", extra=set())


# -- 422 ---------------------------------------------------------------------------------------


def test_422_names_every_bad_body_field(env: Env) -> None:
    response = env.api.post(
        "/api/campaigns",
        headers=env.auth,
        json={"name": " ", "zip_codes": [{"zip_code": "787"}, {"zip_code": "78701", "max_results": 0}]},
    )
    body = assert_error(response, 422, "22023", extra={"errors"})
    fields = [e["field"] for e in body["errors"]]
    assert sorted(fields) == ["body.name", "body.zip_codes[0].zip_code", "body.zip_codes[1].max_results"]
    assert body["error"] == f"{fields[0]}: {body['errors'][0]['message']}"

    lead = env.api.post(
        "/api/leads",
        headers=env.auth,
        json={"customer_phone": "call me", "customer_name": "Ana", "type": "spam", "user_id": str(uuid4())},
    )
    body = assert_error(lead, 422, "22023", extra={"errors"})
    assert sorted(e["field"] for e in body["errors"]) == ["body.customer_phone", "body.type", "body.user_id"]


def test_422_query_path_and_a_body_that_is_not_json(env: Env) -> None:
    body = assert_error(
        env.api.get("/api/leads", headers=env.auth, params={"limit": 0, "status": "nope"}), 422, "22023"
    )
    assert sorted(e["field"] for e in body["errors"]) == ["query.limit", "query.status"]
    body = assert_error(env.api.get("/api/campaigns/not-a-uuid", headers=env.auth), 422, "22023")
    assert [e["field"] for e in body["errors"]] == ["path.campaign_id"]
    not_json = env.api.post(
        "/api/leads", headers={**env.auth, "Content-Type": "application/json"}, content=b"{not json"
    )
    assert assert_error(not_json, 422, "22023", extra={"errors"})["errors"][0]["field"].startswith("body")


def test_422_a_phone_number_that_does_not_normalise(env: Env) -> None:
    """Written like a phone number (the model's check) but not a possible one in the region."""
    response = env.api.post(
        "/api/leads",
        headers=env.auth,
        json={"customer_phone": "123456", "customer_name": "A", "type": "quote"},
    )
    body = assert_error(response, 422, "22023", extra={"errors"})
    assert [e["field"] for e in body["errors"]] == ["body.customer_phone"]
    assert body["error"].startswith("body.customer_phone: must be an E.164 phone number")


BAD_CURSORS = [
    "!!",
    "bm90IGpzb24",  # base64url of "not json"
    "e30",  # {}
    encode_cursor(OffsetPosition(offset=3)),  # the offset scheme's, on a keyset list
]


def test_422_a_cursor_this_api_did_not_hand_out(env: Env) -> None:
    campaign_id = new_campaign(env)
    keyset = encode_cursor(KeysetPosition(created_at=datetime.now(UTC), id=uuid4()))
    cases = [(path, cursor) for path in ("/api/leads", "/api/campaigns") for cursor in BAD_CURSORS]
    cases += [(f"/api/campaigns/{campaign_id}/enrichment/facebook", c) for c in [*BAD_CURSORS[:3], keyset]]
    for path, cursor in cases:
        response = env.api.get(path, headers=env.auth, params={"cursor": cursor})
        body = assert_error(response, 422, "22023", extra={"errors"})
        assert [e["field"] for e in body["errors"]] == ["query.cursor"], (path, cursor)
        assert body["error"].startswith("query.cursor: invalid cursor")


def test_422_from_the_stored_function_keeps_its_sqlstate(env: Env) -> None:
    campaign_id = new_campaign(env)
    response = env.api.post(
        f"/api/campaigns/{campaign_id}/businesses",
        headers=env.auth,
        json={"businesses": [{"placeId": "x", "totalScore": "high"}]},
    )
    body = assert_error(response, 422, "22023", extra=set())
    assert "p_businesses[0]" in body["error"]


# -- 409 ---------------------------------------------------------------------------------------


def test_409_invalid_transition_and_duplicate(env: Env) -> None:
    campaign_id = new_campaign(env)
    assert env.api.post(
        f"/api/campaigns/{campaign_id}/transitions", headers=env.auth, json={"status": "running"}
    ).is_success
    conflict = env.api.post(
        f"/api/campaigns/{campaign_id}/transitions", headers=env.auth, json={"status": "draft"}
    )
    assert assert_error(conflict, 409, "P0001", extra=set()) == {
        "error": "Invalid status transition from running to draft",
        "error_code": "P0001",
    }
    lead = {"customer_phone": "+15125550100", "customer_name": "A", "type": "quote"}
    assert env.api.post("/api/leads", headers=env.auth, json=lead).status_code == 201
    duplicate = env.api.post("/api/leads", headers=env.auth, json=lead)
    assert assert_error(duplicate, 409, "23505", extra=set())["error"] == "Duplicate record detected"


# -- 503 and Retry-After -----------------------------------------------------------------------


@pytest.fixture
def down() -> Iterator[TestClient]:
    """The app over a database nobody answers for."""
    settings = make_settings(
        CLOSED,
        jwt_secret=SecretStr(JWT_SECRET),
        whatsapp_app_secret=SecretStr(APP_SECRET),
        pool_timeout=0.5,
        health_timeout=0.5,
        connect_timeout=1,
        retry_attempts=1,
    )
    with TestClient(create_app(settings, database_url=CLOSED)) as api:
        yield api


def test_503_with_retry_after_when_the_database_is_unavailable(down: TestClient) -> None:
    auth = {"Authorization": f"Bearer {jwt_for(uuid4())}"}  # a JWT needs no database to check
    for response in (
        down.get("/api/campaigns", headers=auth),
        down.get("/api/leads", headers=auth),
        down.post("/api/campaigns", headers=auth, json={"name": "x", "zip_codes": [{"zip_code": "78701"}]}),
        down.get("/api/campaigns", headers={"X-API-Key": "llk_anything"}),  # the key lookup itself
    ):
        assert_error(response, 503, "database_unavailable", extra=set())
        assert response.headers["Retry-After"] == "5"
    health = down.get("/api/health")
    body = assert_error(health, 503, "database_unavailable")
    assert (body["status"], body["error"]) == ("unavailable", body["reason"])
    assert health.headers["Retry-After"] == "5"


def test_a_webhook_that_cannot_be_stored_is_503_with_retry_after(down: TestClient) -> None:
    raw = json.dumps(message_payload(PHONE_NUMBER_ID, "15125550142", "hello")).encode()
    response = down.post(
        "/api/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)},
    )
    body = assert_error(response, 503, "try_again", extra=set())
    assert body["error"].startswith("not stored, deliver again: ")
    assert response.headers["Retry-After"] == "1"


def test_every_503_rule_has_a_retry_after() -> None:
    rules: list[ErrorRule] = [rule for _, rule in RULES]
    assert all(rule.retry_after >= 1 for rule in rules if rule.status == 503)


def test_unconfigured_whatsapp_is_503_with_retry_after(db_url: str, database: Database) -> None:
    user = new_member(database, "unconfigured@example.com")
    key = user.key
    with TestClient(create_app(make_settings(db_url), database_url=db_url)) as api:
        send = api.post(
            "/api/whatsapp",
            headers={"X-API-Key": key},
            json={"to": "+15125550199", "message": "hi", "createLead": True, "customerName": "Sam"},
        )
        assert (
            "LEADLEDGER_WHATSAPP_PHONE_NUMBER_ID"
            in assert_error(send, 503, "not_configured", extra=set())["error"]
        )
        hook = api.post("/api/webhooks/whatsapp", content=b"{}")
        assert (
            "LEADLEDGER_WHATSAPP_APP_SECRET"
            in assert_error(hook, 503, "not_configured", extra=set())["error"]
        )


# -- the webhook and sending -------------------------------------------------------------------


def test_webhook_errors_in_the_one_shape(env: Env) -> None:
    raw = json.dumps(message_payload(PHONE_NUMBER_ID, "15125550142", "hello")).encode()
    assert_error(env.webhook(raw, secret="wrong"), 401, "invalid_signature", extra=set())
    unsigned = env.api.post("/api/webhooks/whatsapp", content=raw)
    assert_error(unsigned, 401, "invalid_signature", extra=set())
    assert_error(env.webhook(b"{not json"), 400, "invalid_json", extra=set())
    handshake = env.api.get(
        "/api/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    )
    assert_error(handshake, 403, "verification_failed", extra=set())
    ok = env.webhook(raw)
    assert ok.status_code == 200
    assert ok.json() == {
        "status": "ok",
        "messages": 1,
        "duplicates": 0,
        "leads_created": 1,
        "statuses": 0,
        "ignored": [],
    }


def test_a_refused_send_is_502_with_whatsapps_reason(env: Env) -> None:
    env.fake.fail_next(400, "(#131030) Recipient phone number not in allowed list")
    response = env.api.post(
        "/api/whatsapp",
        headers=env.auth,
        json={"to": "+15125550199", "message": "hi", "createLead": True, "customerName": "S"},
    )
    body = assert_error(response, 502, "whatsapp_send_failed", extra={"whatsapp_status", "details"})
    assert body["whatsapp_status"] == 400
    assert "not in allowed list" in body["error"]


def test_an_unexpected_error_is_500_in_the_one_shape(db_url: str) -> None:
    app = create_app(make_settings(db_url), database_url=db_url)

    async def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    app.add_api_route("/api/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as api:
        response = api.get("/api/boom")
    body = assert_error(response, 500, "internal_error", extra=set())
    assert "internal detail" not in body["error"]
