"""The leads HTTP API, the WhatsApp webhook and /api/whatsapp, against a real database and a real
local HTTP server standing in for the WhatsApp Cloud API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import jwt
import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr

from leadledger.api import create_app
from leadledger.db import Database
from leadledger.leads.client import LeadsClient
from leadledger.leads.fake_whatsapp import FakeWhatsAppServer, message_payload, status_payload
from leadledger.leads.whatsapp import sign
from tests.conftest import make_settings
from tests.helpers import scalar, sleep_trigger_sql
from tests.tenants import new_member

APP_SECRET = "test-app-secret"
JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"
PHONE_NUMBER_ID = "100200300400"


@dataclass
class Env:
    api: TestClient
    user_id: UUID
    key: str
    fake: FakeWhatsAppServer
    organization_id: UUID

    @property
    def auth(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def webhook(self, payload: Any, secret: str = APP_SECRET, raw: bytes | None = None) -> Any:
        body = raw if raw is not None else json.dumps(payload).encode()
        return self.api.post(
            "/api/webhooks/whatsapp",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, body)},
        )


def counts(conn: psycopg.Connection[Any]) -> tuple[int, int, int]:
    return (
        scalar(conn, "SELECT count(*) FROM leads"),
        scalar(conn, "SELECT count(*) FROM conversations"),
        scalar(conn, "SELECT count(*) FROM messages"),
    )


@pytest.fixture
def env(db_url: str, database: Database) -> Iterator[Env]:
    user = new_member(database, f"owner-{uuid4().hex[:6]}@example.com", "Owner")
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
            yield Env(api, user.user_id, key, fake, user.organization_id)


def token_for(user_id: UUID, organization_id: UUID | None = None, **claims: Any) -> str:
    payload = {
        "sub": str(user_id),
        "organization_id": str(organization_id or uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "exp": int(time.time()) + 600,
    }
    payload.update(claims)
    return jwt.encode(payload, JWT_SECRET, algorithm="HS256")


# -- POST/GET /api/leads -------------------------------------------------------------------------


def test_create_lead_201_and_list(env: Env, conn: psycopg.Connection[Any]) -> None:
    response = env.api.post(
        "/api/leads",
        headers=env.auth,
        json={
            "customer_phone": "(512) 555-0100",
            "customer_name": "Ana Ruiz",
            "type": "quote",
            "details": "Roof repair",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"lead_id", "conversation_id"}
    assert scalar(conn, "SELECT customer_phone FROM leads WHERE id = %s", body["lead_id"]) == "+15125550100"
    assert scalar(conn, "SELECT user_id FROM leads WHERE id = %s", body["lead_id"]) == env.user_id
    actors = conn.execute("SELECT DISTINCT actor FROM lead_audit_log WHERE record_id = %s", [body["lead_id"]])
    assert [r[0] for r in actors] == [str(env.user_id)]  # the audit log names the API's caller
    page = env.api.get("/api/leads", headers=env.auth).json()
    assert [item["lead_id"] for item in page["items"]] == [body["lead_id"]]
    assert page["next_cursor"] is None


def test_validation_names_each_field_and_writes_nothing(env: Env, conn: psycopg.Connection[Any]) -> None:
    before = counts(conn)
    cases = [
        ({"customer_phone": "12", "customer_name": "A", "type": "quote"}, "customer_phone"),
        ({"customer_phone": "not a phone", "customer_name": "A", "type": "quote"}, "customer_phone"),
        ({"customer_phone": "+15125550100", "customer_name": "A", "type": "spam"}, "type"),
        ({"customer_phone": "+15125550100", "type": "quote"}, "customer_name"),
        (
            {
                "customer_phone": "+15125550100",
                "customer_name": "A",
                "type": "quote",
                "user_id": str(uuid4()),
            },
            "user_id",
        ),
    ]
    for body, field in cases:
        response = env.api.post("/api/leads", headers=env.auth, json=body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()
        assert error["error_code"] == "22023"
        assert [e["field"] for e in error["errors"]] == [f"body.{field}"]
        assert error["error"].startswith(f"body.{field}: ")
    assert counts(conn) == before


def test_one_422_names_every_bad_field(env: Env, conn: psycopg.Connection[Any]) -> None:
    """A bad phone is reported together with the other bad fields, not after them."""
    before = counts(conn)
    response = env.api.post(
        "/api/leads",
        headers=env.auth,
        json={"customer_phone": "call me", "customer_name": " ", "type": "spam"},
    )
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == [
        "body.customer_name",
        "body.customer_phone",
        "body.type",
    ]
    send = env.api.post(
        "/api/whatsapp", headers=env.auth, json={"to": "nope", "message": "", "createLead": True}
    )
    assert send.status_code == 422
    assert sorted(e["field"] for e in send.json()["errors"]) == [
        "body.customer_name",
        "body.message",
        "body.to",
    ]
    assert counts(conn) == before
    assert env.fake.sent == []


def test_duplicate_lead_is_409(env: Env) -> None:
    body = {"customer_phone": "+15125550100", "customer_name": "A", "type": "quote"}
    assert env.api.post("/api/leads", headers=env.auth, json=body).status_code == 201
    again = env.api.post("/api/leads", headers=env.auth, json=body)
    assert again.status_code == 409
    assert again.json()["error"] == "Duplicate record detected"


def test_authentication(env: Env, db_url: str) -> None:
    body = {"customer_phone": "+15125550100", "customer_name": "A", "type": "quote"}
    assert env.api.post("/api/leads", json=body).status_code == 401
    assert env.api.post("/api/leads", json=body, headers={"X-API-Key": "llk_wrong"}).status_code == 401
    assert env.api.get("/api/leads", headers={"Authorization": "Basic abc"}).status_code == 401
    bearer_key = env.api.get("/api/leads", headers={"Authorization": f"Bearer {env.key}"})
    assert bearer_key.status_code == 200
    with_jwt = env.api.post(
        "/api/leads",
        json=body,
        headers={"Authorization": f"Bearer {token_for(env.user_id, env.organization_id)}"},
    )
    assert with_jwt.status_code == 201
    expired = token_for(env.user_id, env.organization_id, exp=int(time.time()) - 10)
    assert env.api.get("/api/leads", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    forged = jwt.encode(
        {"sub": str(env.user_id), "aud": "authenticated", "exp": int(time.time()) + 60},
        "another-secret-of-at-least-32-bytes!!",
        algorithm="HS256",
    )
    assert env.api.get("/api/leads", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    stranger = token_for(uuid4())  # a user who is not a member of the organization the token names
    assert (
        env.api.post("/api/leads", json=body, headers={"Authorization": f"Bearer {stranger}"}).status_code
        == 401
    )
    outsider = token_for(env.user_id, uuid4())  # a real user, an organization he is not in
    assert env.api.get("/api/leads", headers={"Authorization": f"Bearer {outsider}"}).status_code == 401


def test_pagination_filters_soft_delete_and_restore(env: Env) -> None:
    ids = []
    for i in range(5):
        response = env.api.post(
            "/api/leads",
            headers=env.auth,
            json={
                "customer_phone": f"+1512555010{i}",
                "customer_name": f"Lead {i}",
                "type": "quote" if i % 2 else "booking",
            },
        )
        ids.append(response.json()["lead_id"])
    first = env.api.get("/api/leads", headers=env.auth, params={"limit": 2}).json()
    second = env.api.get(
        "/api/leads", headers=env.auth, params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    third = env.api.get(
        "/api/leads", headers=env.auth, params={"limit": 2, "cursor": second["next_cursor"]}
    ).json()
    seen = [item["lead_id"] for page in (first, second, third) for item in page["items"]]
    assert sorted(seen) == sorted(ids)
    assert third["next_cursor"] is None
    assert len(env.api.get("/api/leads", headers=env.auth, params={"type": "booking"}).json()["items"]) == 3
    assert len(env.api.get("/api/leads", headers=env.auth, params={"q": "Lead 4"}).json()["items"]) == 1
    assert env.api.get("/api/leads", headers=env.auth, params={"cursor": "!!"}).status_code == 422

    deleted = env.api.delete(f"/api/leads/{ids[0]}", headers=env.auth)
    assert deleted.json()["changed"] is True
    listed = [item["lead_id"] for item in env.api.get("/api/leads", headers=env.auth).json()["items"]]
    assert ids[0] not in listed
    assert env.api.get(f"/api/leads/{ids[0]}", headers=env.auth).status_code == 404
    assert env.api.post(f"/api/leads/{ids[0]}/restore", headers=env.auth).json()["changed"] is True
    listed = [item["lead_id"] for item in env.api.get("/api/leads", headers=env.auth).json()["items"]]
    assert ids[0] in listed
    detail = env.api.get(f"/api/leads/{ids[0]}", headers=env.auth)
    assert detail.status_code == 200, detail.text
    assert detail.json()["lead"]["customer_name"] == "Lead 0"
    assert [c["status"] for c in detail.json()["conversations"]] == ["active"]
    assert env.api.delete(f"/api/leads/{uuid4()}", headers=env.auth).status_code == 404
    # the largest page the route allows (it asks the database for one more row)
    biggest = env.api.get("/api/leads", headers=env.auth, params={"limit": 500})
    assert biggest.status_code == 200, biggest.text
    assert (len(biggest.json()["items"]), biggest.json()["next_cursor"]) == (5, None)
    assert env.api.get("/api/leads", headers=env.auth, params={"limit": 501}).status_code == 422


# -- the webhook ---------------------------------------------------------------------------------


def test_verification_handshake(env: Env) -> None:
    ok = env.api.get(
        "/api/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"},
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = env.api.get(
        "/api/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403


def test_incoming_message_creates_lead_once(env: Env, conn: psycopg.Connection[Any]) -> None:
    payload = message_payload(PHONE_NUMBER_ID, "15125550142", "Hi, teeth whitening?", name="Maria Lopez")
    first = env.webhook(payload)
    assert first.status_code == 200, first.text
    assert (first.json()["messages"], first.json()["leads_created"]) == (1, 1)
    again = env.webhook(payload)
    assert again.json()["duplicates"] == 1
    assert counts(conn) == (1, 1, 1)
    assert scalar(conn, "SELECT customer_name FROM leads") == "Maria Lopez"
    assert scalar(conn, "SELECT customer_phone FROM leads") == "+15125550142"
    env.webhook(message_payload(PHONE_NUMBER_ID, "15125550142", "Saturday?"))
    assert counts(conn) == (1, 1, 2)


def test_forged_or_missing_signature_is_401_and_writes_nothing(
    env: Env, conn: psycopg.Connection[Any]
) -> None:
    payload = message_payload(PHONE_NUMBER_ID, "15125550142", "hello")
    assert env.webhook(payload, secret="wrong-secret").status_code == 401
    body = json.dumps(payload).encode()
    missing = env.api.post(
        "/api/webhooks/whatsapp", content=body, headers={"Content-Type": "application/json"}
    )
    assert missing.status_code == 401
    tampered = env.api.post(
        "/api/webhooks/whatsapp", content=body + b" ", headers={"X-Hub-Signature-256": sign(APP_SECRET, body)}
    )
    assert tampered.status_code == 401
    assert counts(conn) == (0, 0, 0)


def test_malformed_json_is_400_and_unknown_shapes_are_acknowledged(
    env: Env, conn: psycopg.Connection[Any]
) -> None:
    assert env.webhook(None, raw=b"{not json").status_code == 400
    for payload in (
        {"object": "page", "entry": []},
        {"hello": "world"},
        [1, 2, 3],
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"odd": True}}]}]},
    ):
        response = env.webhook(payload)
        assert response.status_code == 200, payload
        assert response.json()["ignored"]
    unlinked = env.webhook(message_payload("999999999", "15125550142", "hello"))
    assert unlinked.status_code == 200
    assert "not linked" in unlinked.json()["ignored"][0]
    assert counts(conn) == (0, 0, 0)


# -- sending -------------------------------------------------------------------------------------


def test_send_with_create_lead_then_status_updates(env: Env, conn: psycopg.Connection[Any]) -> None:
    sent = env.api.post(
        "/api/whatsapp",
        headers=env.auth,
        json={
            "to": "+1 512 555 0199",
            "message": "Your quote is ready",
            "createLead": True,
            "customerName": "Sam Patel",
        },
    )
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["lead_created"] is True
    assert env.fake.sent[0]["body"]["to"] == "15125550199"
    assert env.fake.sent[0]["body"]["text"]["body"] == "Your quote is ready"
    assert scalar(conn, "SELECT wa_message_id FROM messages") == body["wa_message_id"]
    for state in ("delivered", "read", "delivered"):
        env.webhook(status_payload(PHONE_NUMBER_ID, body["wa_message_id"], state, "15125550199"))
    assert scalar(conn, "SELECT status FROM messages") == "read"
    reply = env.api.post("/api/whatsapp", headers=env.auth, json={"to": "+15125550199", "message": "Thanks!"})
    assert reply.status_code == 201
    assert reply.json()["lead_created"] is False
    assert counts(conn) == (1, 1, 2)


def test_send_validation_and_a_number_without_a_lead(env: Env, conn: psycopg.Connection[Any]) -> None:
    need_name = env.api.post(
        "/api/whatsapp", headers=env.auth, json={"to": "+15125550199", "message": "x", "createLead": True}
    )
    assert need_name.status_code == 422
    assert "customerName" in need_name.text
    assert (
        env.api.post("/api/whatsapp", headers=env.auth, json={"to": "12", "message": "x"}).status_code == 422
    )
    assert env.fake.sent == []
    # A number without a lead, without createLead: sent "without lead tracking" (003), nothing stored.
    unknown = env.api.post("/api/whatsapp", headers=env.auth, json={"to": "+15125550199", "message": "x"})
    assert unknown.status_code == 201, unknown.text
    body = unknown.json()
    assert (body["recorded"], body["lead_id"], body["message_id"]) == (False, None, None)
    assert [m["id"] for m in env.fake.sent] == [body["wa_message_id"]]
    assert counts(conn) == (0, 0, 0)


def test_failed_send_tells_why_and_leaves_nothing(env: Env, conn: psycopg.Connection[Any]) -> None:
    env.fake.fail_next(400, "(#131030) Recipient phone number not in allowed list")
    failed = env.api.post(
        "/api/whatsapp",
        headers=env.auth,
        json={"to": "+15125550199", "message": "hi", "createLead": True, "customerName": "Sam"},
    )
    assert failed.status_code == 502
    assert "Recipient phone number not in allowed list" in failed.json()["error"]
    assert failed.json()["whatsapp_status"] == 400
    assert counts(conn) == (0, 0, 0)


def test_a_change_without_metadata_does_not_drop_the_other_changes(
    env: Env, conn: psycopg.Connection[Any]
) -> None:
    good = message_payload(PHONE_NUMBER_ID, "15125550142", "hello")
    good["entry"][0]["changes"].insert(0, {"field": "messages", "value": {"messaging_product": "whatsapp"}})
    response = env.webhook(good)
    assert response.status_code == 200
    assert response.json()["messages"] == 1
    assert response.json()["ignored"] == ["a change without metadata.phone_number_id"]
    assert counts(conn) == (1, 1, 1)


def test_a_webhook_cut_by_the_statement_timeout_is_503_so_meta_redelivers(
    env: Env, db_url: str, conn: psycopg.Connection[Any]
) -> None:
    conn.execute(sleep_trigger_sql("messages", 2))
    settings = make_settings(db_url, statement_timeout=0.5, whatsapp_app_secret=SecretStr(APP_SECRET))
    with TestClient(create_app(settings, database_url=db_url)) as api:
        body = json.dumps(message_payload(PHONE_NUMBER_ID, "15125550142", "hello")).encode()
        response = api.post(
            "/api/webhooks/whatsapp",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, body)},
        )
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    assert counts(conn) == (0, 0, 0)


def test_sending_without_a_token_or_a_number_is_503_naming_what_is_missing(
    env: Env, db_url: str, database: Database, conn: psycopg.Connection[Any]
) -> None:
    settings = make_settings(db_url)  # no LEADLEDGER_WHATSAPP_ACCESS_TOKEN
    body = {"to": "+15125550199", "message": "hi", "createLead": True, "customerName": "Sam"}
    numberless = new_member(database)  # an organization without a WhatsApp number
    with TestClient(create_app(settings, database_url=db_url)) as api:
        no_token = api.post("/api/whatsapp", headers=env.auth, json=body)
        no_number = api.post("/api/whatsapp", headers=numberless.auth, json=body)
    assert no_token.status_code == 503
    assert "LEADLEDGER_WHATSAPP_ACCESS_TOKEN" in no_token.json()["error"]
    assert no_number.status_code == 503
    assert "leadledger whatsapp link --org" in no_number.json()["error"]
    assert counts(conn) == (0, 0, 0)
    assert env.fake.sent == []


FAIL_OUTBOUND = """
CREATE FUNCTION public.lltest_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'injected failure' USING ERRCODE = 'P0001';
END
$$;
CREATE TRIGGER lltest_fail AFTER INSERT ON public.messages
    FOR EACH ROW EXECUTE FUNCTION public.lltest_fail();
"""


def test_a_message_sent_but_not_recorded_says_it_was_sent(env: Env, conn: psycopg.Connection[Any]) -> None:
    conn.execute(FAIL_OUTBOUND)
    response = env.api.post(
        "/api/whatsapp",
        headers=env.auth,
        json={"to": "+15125550199", "message": "hi", "createLead": True, "customerName": "Sam"},
    )
    assert response.status_code == 409, response.text
    assert response.json() == {  # the one error body, plus what the caller must know: it went out
        "error": "injected failure",
        "error_code": "P0001",
        "sent": True,
        "wa_message_id": env.fake.sent[0]["id"],
    }
    assert counts(conn) == (0, 0, 0)  # the record was all or nothing


def test_ten_concurrent_deliveries_of_one_webhook_store_one_message(
    env: Env, db_url: str, conn: psycopg.Connection[Any]
) -> None:
    """Meta delivering one notification ten times at once, over real HTTP to a real server: one
    message, one lead, and every delivery answered 200 (nine of them as duplicates)."""
    conn.execute(sleep_trigger_sql("messages", 0.3))  # the first insert holds its locks a while
    settings = make_settings(db_url, whatsapp_app_secret=SecretStr(APP_SECRET))
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database_url=db_url), host="127.0.0.1", port=0, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):  # up to about 30 s for the server to listen
            if server.started:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the server did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        body = json.dumps(
            message_payload(PHONE_NUMBER_ID, "15125550142", "once", message_id="wamid.once")
        ).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, body)}
        barrier = threading.Barrier(10)

        def deliver(_: int) -> httpx.Response:
            barrier.wait()
            return httpx.post(
                f"http://127.0.0.1:{port}/api/webhooks/whatsapp", content=body, headers=headers, timeout=30
            )

        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(pool.map(deliver, range(10)))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert [r.status_code for r in responses] == [200] * 10
    assert sorted(r.json()["duplicates"] for r in responses) == [0] + [1] * 9
    assert counts(conn) == (1, 1, 1)
