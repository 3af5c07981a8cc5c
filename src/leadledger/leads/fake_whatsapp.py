"""A local stand-in for the WhatsApp Cloud API, and builders of Meta-shaped webhook payloads.

Tests and ``leadledger demo`` start :class:`FakeWhatsAppServer` on 127.0.0.1 and point
``LEADLEDGER_WHATSAPP_API_BASE_URL`` at it: a real HTTP server answering
``POST /{version}/{phone_number_id}/messages`` the way the Graph API does (a ``wamid`` id, or
Meta's error shape). Nothing here talks to Meta.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class FakeWhatsAppServer:
    """``token`` is the access token every number accepts; ``tokens`` gives some numbers (by
    phone number id) their own instead, as Meta does for numbers of different businesses."""

    def __init__(
        self,
        token: str = "test-token",  # noqa: S107
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.token = token
        self.tokens = dict(tokens or {})
        self.sent: list[dict[str, Any]] = []
        self._failures: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                number = self.path.strip("/").split("/")[1] if self.path.count("/") >= 2 else ""
                expected = server.tokens.get(number, server.token)
                if self.headers.get("Authorization") != f"Bearer {expected}":
                    self._answer(401, _error(190, "Invalid OAuth access token."))
                    return
                if not self.path.rstrip("/").endswith("/messages"):
                    self._answer(404, _error(100, f"Unknown path {self.path}"))
                    return
                with server._lock:
                    failure = server._failures.pop(0) if server._failures else None
                if failure is not None:
                    self._answer(failure[0], _error(131000, failure[1]))
                    return
                body = json.loads(raw or b"{}")
                wamid = "wamid." + uuid.uuid4().hex
                with server._lock:
                    server.sent.append({"path": self.path, "body": body, "id": wamid})
                to = str(body.get("to", ""))
                self._answer(200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                                   "messages": [{"id": wamid}]})  # fmt: skip

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-whatsapp", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, status: int = 500, message: str = "Service temporarily unavailable") -> None:
        """Make the next send fail with this HTTP status and Meta-style error."""
        with self._lock:
            self._failures.append((status, message))

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "fake"}}


def message_payload(
    phone_number_id: str,
    from_wa_id: str,
    text: str,
    *,
    name: str | None = None,
    message_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A webhook notification of one incoming text message, as Meta sends it."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                    "contacts": [{"profile": {"name": name or "WhatsApp user"}, "wa_id": from_wa_id}],
                    "messages": [{
                        "from": from_wa_id,
                        "id": message_id or "wamid." + uuid.uuid4().hex,
                        "timestamp": str(timestamp or int(time.time())),
                        "type": "text",
                        "text": {"body": text},
                    }],
                },
            }],
        }],
    }  # fmt: skip


def status_payload(phone_number_id: str, wa_message_id: str, status: str, recipient: str) -> dict[str, Any]:
    """A webhook notification of one status change (sent, delivered, read, failed)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                    "statuses": [{"id": wa_message_id, "status": status, "timestamp": str(int(time.time())),
                                  "recipient_id": recipient}],
                },
            }],
        }],
    }  # fmt: skip
