"""Secrets and personal data stay out of the logs (issue 10): the webhook's verify token (a query
parameter Meta sends), access tokens, API keys and customers' phone numbers. Proven on the logs of
``leadledger serve`` itself: the real command in a subprocess, its access log and its own logs
captured, while requests take every path that logs (leadledger.log; leads/service.py,
leads/whatsapp.py)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from leadledger.db import Database
from leadledger.leads.client import LeadsClient
from leadledger.leads.fake_whatsapp import FakeWhatsAppServer, message_payload
from leadledger.leads.whatsapp import sign
from leadledger.log import (
    REDACTED,
    AccessLogRedactor,
    RedactingFilter,
    StructuredFormatter,
    redact_query,
    uvicorn_log_config,
)
from tests.tenants import new_member

VERIFY_TOKEN = "verify-SECRET-4242"
WRONG_TOKEN = "wrong-SECRET-5555"
ACCESS_TOKEN = "access-SECRET-9191"
APP_SECRET = "app-SECRET-7373"
NUMBER = "100200300400"
CUSTOMER = "+15125550100"
OTHER_CUSTOMER = "+15125550199"


def test_redact_query_keeps_paths_and_harmless_parameters() -> None:
    target = f"/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=11"
    assert redact_query(target) == (
        f"/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={REDACTED}&hub.challenge={REDACTED}"
    )
    assert redact_query("/api/leads?limit=5&status=new&q=%2B15125550100&cursor=abc") == (
        f"/api/leads?limit=5&status=new&q={REDACTED}&cursor={REDACTED}"
    )
    assert redact_query("/api/leads/123") == "/api/leads/123"
    assert redact_query("/x?15125550100&%2B1512=2") == f"/x?{REDACTED}&{REDACTED}"


def test_the_filters_mask_records_in_place() -> None:
    access = logging.makeLogRecord(
        {
            "name": "uvicorn.access",
            "msg": '%s - "%s %s HTTP/%s" %d',
            "args": (
                "127.0.0.1:5",
                "GET",
                f"/api/webhooks/whatsapp?hub.verify_token={VERIFY_TOKEN}",
                "1.1",
                200,
            ),
        }
    )
    assert AccessLogRedactor().filter(access) is True
    assert VERIFY_TOKEN not in access.getMessage()
    fields = logging.makeLogRecord(
        {
            "msg": "x",
            "to": CUSTOMER,
            "customer_phone": CUSTOMER,
            "access_token": ACCESS_TOKEN,
            "phone_number_id": NUMBER,
        }
    )
    assert RedactingFilter().filter(fields) is True
    line = StructuredFormatter(json=True).format(fields)
    assert CUSTOMER not in line
    assert ACCESS_TOKEN not in line
    assert json.loads(line)["phone_number_id"] == NUMBER  # the business number's id is no secret


def test_the_uvicorn_configuration_keeps_uvicorns_own_and_adds_the_filters() -> None:
    config = uvicorn_log_config()
    assert config["loggers"]["uvicorn.access"]["filters"] == ["leadledger_access"]
    assert config["filters"]["leadledger_access"]["()"] == "leadledger.log.AccessLogRedactor"
    assert all(handler["filters"] == ["leadledger_fields"] for handler in config["handlers"].values())
    assert uvicorn_log_config() is not config  # a copy: uvicorn's own stays as it was
    from uvicorn.config import LOGGING_CONFIG

    assert "filters" not in LOGGING_CONFIG["loggers"]["uvicorn.access"]


FAIL_OUTBOUND = """
CREATE FUNCTION public.lltest_fail_outbound() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.direction = 'outbound' THEN
        RAISE EXCEPTION 'injected failure for %', NEW.body USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER lltest_fail_outbound BEFORE INSERT ON public.messages
    FOR EACH ROW EXECUTE FUNCTION public.lltest_fail_outbound();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _signed(payload: Any) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    return {
        "content": body,
        "headers": {"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, body)},
    }


def test_leadledger_serve_logs_no_secret_and_no_phone_number(
    db_url: str, database: Database, conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    member = new_member(database)
    LeadsClient(database).link_whatsapp_number(
        member.user_id, NUMBER, None, "env:LLTEST_NUMBER_TOKEN", member.organization_id
    )
    conn.execute(FAIL_OUTBOUND)
    port = _free_port()
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with FakeWhatsAppServer(tokens={NUMBER: ACCESS_TOKEN}) as fake:
        environ = {
            k: v for k, v in os.environ.items() if not k.startswith("LEADLEDGER_") and k != "DATABASE_URL"
        }
        environ.update(
            {
                "LEADLEDGER_DATABASE_URL": db_url,
                "LEADLEDGER_LOG_LEVEL": "INFO",  # uvicorn's, the access log included
                "LEADLEDGER_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
                "LEADLEDGER_WHATSAPP_APP_SECRET": APP_SECRET,
                "LEADLEDGER_WHATSAPP_API_BASE_URL": fake.base_url,
                "LLTEST_NUMBER_TOKEN": ACCESS_TOKEN,
            }
        )
        command = [sys.executable, "-m", "leadledger", "--log-level", "DEBUG", "serve"]
        with (
            out.open("w") as stdout,
            err.open("w") as stderr,
            subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(port)],
                env=environ,
                stdout=stdout,
                stderr=stderr,
            ) as server,
        ):
            try:
                base = f"http://127.0.0.1:{port}"
                for _ in range(300):  # up to about a minute for the service to listen
                    try:
                        httpx.get(f"{base}/api/health", timeout=10)
                        break
                    except httpx.TransportError:
                        assert server.poll() is None, err.read_text()
                        time.sleep(0.2)
                else:
                    pytest.fail("the service did not start")
                hook = f"{base}/api/webhooks/whatsapp"
                auth = {"X-API-Key": member.key}
                verified = httpx.get(
                    hook,
                    params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "77"},
                )
                assert (verified.status_code, verified.text) == (200, "77")
                wrong = httpx.get(
                    hook,
                    params={"hub.mode": "subscribe", "hub.verify_token": WRONG_TOKEN, "hub.challenge": "1"},
                )
                assert wrong.status_code == 403
                assert httpx.get(f"{base}/api/leads", params={"q": CUSTOMER}, headers=auth).status_code == 200
                # sent (with the number's own token), then recording fails: logged with its WhatsApp id
                sent = httpx.post(
                    f"{base}/api/whatsapp",
                    headers=auth,
                    json={"to": CUSTOMER, "message": "hi", "createLead": True, "customerName": "Ana"},
                    timeout=30,
                )
                assert sent.status_code == 409, sent.text
                assert sent.json()["sent"] is True
                # a message whose sender is not a phone number: not stored, logged
                bad = httpx.post(
                    hook, **_signed(message_payload(NUMBER, CUSTOMER.lstrip("+") + "x", "hello"))
                )
                assert bad.json()["ignored"], bad.text
                # a message without an id: an unrecognised payload, logged
                shapeless = message_payload(NUMBER, OTHER_CUSTOMER.lstrip("+"), "hello")
                del shapeless["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
                assert httpx.post(hook, **_signed(shapeless)).json()["ignored"]
                # an unknown business number, and a good message
                assert httpx.post(
                    hook, **_signed(message_payload("999999", CUSTOMER.lstrip("+"), "x"))
                ).json()["ignored"]
                good = httpx.post(hook, **_signed(message_payload(NUMBER, OTHER_CUSTOMER.lstrip("+"), "hi")))
                assert good.json()["messages"] == 1
            finally:
                server.terminate()
                server.wait(timeout=30)
        assert len(fake.sent) == 1
    logs = out.read_text() + err.read_text()
    # the requests were logged (access log) and so were the failures (leadledger's own logs)
    assert "/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=[redacted]" in logs, logs
    assert "/api/leads?q=[redacted]" in logs, logs
    assert "whatsapp: message sent but not recorded" in logs, logs
    assert "whatsapp webhook: message not stored" in logs, logs
    assert "whatsapp webhook: unrecognised payload" in logs, logs
    assert "whatsapp webhook: unknown phone number id" in logs, logs
    forbidden = {
        "the verify token": VERIFY_TOKEN,
        "a wrong verify token": WRONG_TOKEN,
        "the access token": ACCESS_TOKEN,
        "the app secret": APP_SECRET,
        "the API key": member.key,
        "a customer's number (E.164)": CUSTOMER,
        "a customer's number (wa_id)": CUSTOMER.lstrip("+"),
        "a customer's national number": CUSTOMER[2:],
        "another customer's number": OTHER_CUSTOMER.lstrip("+"),
        "a message body": "injected failure for hi",
    }
    for what, text in forbidden.items():
        assert text not in logs, (what, logs)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_verify_token_leaves_the_request_before_any_access_log_sees_it(db_url: str) -> None:
    """However the app is run (here: uvicorn with its own default logging, no filter of ours),
    the handshake masks the token in the request once read, and the access log records the mask."""
    import threading

    import uvicorn
    from pydantic import SecretStr

    from leadledger.api import create_app
    from tests.conftest import make_settings

    settings = make_settings(db_url, whatsapp_verify_token=SecretStr(VERIFY_TOKEN))
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database_url=db_url), host="127.0.0.1", port=0, log_level="info")
    )
    lines = _Lines()
    access = logging.getLogger("uvicorn.access")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):
            if server.started:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the server did not start")
        access.addHandler(lines)
        port = server.servers[0].sockets[0].getsockname()[1]
        hook = f"http://127.0.0.1:{port}/api/webhooks/whatsapp"
        for token, status in ((VERIFY_TOKEN, 200), (WRONG_TOKEN, 403)):
            answer = httpx.get(
                hook, params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "9"}
            )
            assert answer.status_code == status
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        access.removeHandler(lines)
    assert len(lines.lines) == 2, lines.lines
    for line in lines.lines:
        assert "hub.verify_token=[redacted]" in line, line
        assert VERIFY_TOKEN not in line
        assert WRONG_TOKEN not in line
