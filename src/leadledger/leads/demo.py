"""The leads walk-through of ``leadledger demo``: a WhatsApp conversation through the real HTTP
service (in-process), with a local stand-in for the WhatsApp Cloud API."""

from __future__ import annotations

import json
import secrets
from typing import Any

import anyio
import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from leadledger.api import create_app
from leadledger.api.auth import new_api_key
from leadledger.db import Database, Settings
from leadledger.leads.client import LeadsClient
from leadledger.leads.fake_whatsapp import FakeWhatsAppServer, message_payload, status_payload
from leadledger.leads.whatsapp import sign
from leadledger.orgs.client import OrgsClient

APP_SECRET = "demo-app-secret"  # noqa: S105 - the demo's own fake app


def run(db: Database, settings: Settings, console: Console) -> None:
    console.rule("leads: a WhatsApp conversation")
    client = LeadsClient(db)
    owner = OrgsClient(db).create_user(f"demo-{secrets.token_hex(3)}@smileclinic.example", "Smile Clinic")
    key, digest = new_api_key()
    OrgsClient(db).create_api_key(owner.user_id, digest, "demo")
    # A fresh business number each run, so the demo can run again on the same database.
    phone_number_id = str(10**11 + secrets.randbelow(9 * 10**11))
    client.link_whatsapp_number(owner.user_id, phone_number_id, "+1 555 078 3881")
    console.print(f"user {owner.email} with an API key, WhatsApp number {phone_number_id} linked")
    with FakeWhatsAppServer(token="demo-token") as fake:  # noqa: S106
        demo_settings = settings.model_copy(
            update={
                "whatsapp_api_base_url": fake.base_url,
                "whatsapp_phone_number_id": phone_number_id,
                "whatsapp_access_token": SecretStr("demo-token"),
                "whatsapp_app_secret": SecretStr(APP_SECRET),
            }
        )
        anyio.run(_walk_through, db.url, demo_settings, key, console)
        console.print(f"the WhatsApp stand-in received {len(fake.sent)} outgoing messages")


async def _walk_through(url: str, settings: Settings, key: str, console: Console) -> None:
    app = create_app(settings, database_url=url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leadledger") as http,
    ):
        auth = {"X-API-Key": key}
        phone_number_id = str(settings.whatsapp_phone_number_id)

        async def webhook(payload: dict[str, Any], secret: str = APP_SECRET) -> httpx.Response:
            body = json.dumps(payload).encode()
            return await http.post(
                "/api/webhooks/whatsapp",
                content=body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, body)},
            )

        first = message_payload(
            phone_number_id, "15125550142", "Hi! Do you do teeth whitening?", name="Maria Lopez"
        )
        answer = (await webhook(first)).json()
        console.print(f"incoming message from a new number: leads created {answer['leads_created']}")
        again = (await webhook(first)).json()
        console.print(
            f"Meta delivers the same notification again: duplicates {again['duplicates']}, nothing new"
        )
        follow_up = message_payload(
            phone_number_id, "15125550142", "Saturday mornings work best", name="Maria Lopez"
        )
        await webhook(follow_up)
        forged = await webhook(follow_up, secret="not-the-app-secret")  # noqa: S106
        console.print(f"a notification with a forged signature: HTTP {forged.status_code}, nothing written")

        reply = await http.post(
            "/api/whatsapp",
            headers=auth,
            json={"to": "+1 512-555-0142", "message": "Yes! Saturday 10am is free. Shall I book you?"},
        )
        sent = reply.json()
        console.print(f"reply sent through the Cloud API: {sent['wa_message_id'][:18]}...")
        for state in ("delivered", "read"):
            await webhook(status_payload(phone_number_id, sent["wa_message_id"], state, "15125550142"))
        new = await http.post(
            "/api/whatsapp",
            headers=auth,
            json={
                "to": "+15125550199",
                "message": "Your quote is ready.",
                "createLead": True,
                "customerName": "Sam Patel",
            },
        )
        console.print(f"message to a new customer with createLead: lead created {new.json()['lead_created']}")
        await http.post(
            "/api/leads",
            headers=auth,
            json={
                "customer_phone": "(512) 555-0107",
                "customer_name": "Jo Kim",
                "type": "booking",
                "details": "Cleaning for two",
            },
        )

        page = (await http.get("/api/leads", headers=auth)).json()
        table = Table(title="leads (GET /api/leads)")
        for column in ("phone", "name", "type", "source", "conversation"):
            table.add_column(column)
        for lead in page["items"]:
            table.add_row(
                lead["customer_phone"],
                lead["customer_name"] or "",
                lead["lead_type"],
                lead["source"],
                lead["conversation_status"] or "",
            )
        console.print(table)
        maria = next(lead for lead in page["items"] if lead["customer_phone"] == "+15125550142")
        detail = (await http.get(f"/api/leads/{maria['lead_id']}", headers=auth)).json()
        for message in detail["conversations"][0]["messages"]:
            arrow = "<-" if message["direction"] == "inbound" else "->"
            line = f"  {arrow} {message['body']}  ({message['status']})"
            console.print(line, highlight=False, markup=False)
