"""The leads walk-through of ``leadledger demo``: a WhatsApp conversation through the real HTTP
service (in-process), with a local stand-in for the WhatsApp Cloud API, in an organization whose
WhatsApp number it is; a member of another organization sees none of it."""

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
from leadledger.orgs.models import UserCreated

APP_SECRET = "demo-app-secret"  # noqa: S105 - the demo's own fake app


def _member(db: Database, email: str, name: str) -> tuple[UserCreated, str]:
    """A new user, owner of an organization of his own, and an API key acting there."""
    orgs = OrgsClient(db)
    user = orgs.create_user(email, name)
    key, digest = new_api_key()
    orgs.create_api_key(user.user_id, digest, "demo", organization_id=user.organization_id)
    return user, key


def run(db: Database, settings: Settings, console: Console) -> None:
    console.rule("leads: a WhatsApp conversation")
    client = LeadsClient(db)
    run_id = secrets.token_hex(3)
    clinic, key = _member(db, f"demo-{run_id}@smileclinic.example", "Smile Clinic")
    _, other_key = _member(db, f"demo-{run_id}@bakery.example", "Corner Bakery")
    # A fresh business number each run, so the demo can run again on the same database. It is
    # the clinic's organization's: incoming messages land there, and only its members send from it.
    phone_number_id = str(10**11 + secrets.randbelow(9 * 10**11))
    client.link_whatsapp_number(
        clinic.user_id, phone_number_id, "+1 555 078 3881", organization_id=clinic.organization_id
    )
    console.print(
        f"organization of {clinic.email} with an API key, WhatsApp number {phone_number_id} linked to it; "
        "a bakery in an organization of its own",
        highlight=False,
    )
    with FakeWhatsAppServer(token="demo-token") as fake:  # noqa: S106
        demo_settings = settings.model_copy(
            update={
                "whatsapp_api_base_url": fake.base_url,
                # The number was linked without a token reference: it sends with this one.
                "whatsapp_access_token": SecretStr("demo-token"),
                "whatsapp_app_secret": SecretStr(APP_SECRET),
            }
        )
        anyio.run(_walk_through, db.url, demo_settings, key, other_key, phone_number_id, console)
        console.print(f"the WhatsApp stand-in received {len(fake.sent)} outgoing messages")


async def _walk_through(
    url: str, settings: Settings, key: str, other_key: str, phone_number_id: str, console: Console
) -> None:
    app = create_app(settings, database_url=url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leadledger") as http,
    ):
        auth = {"X-API-Key": key}

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

        # The bakery's member, in another organization: the clinic's leads do not exist for him.
        bakery = {"X-API-Key": other_key}
        theirs = await http.get(f"/api/leads/{maria['lead_id']}", headers=bakery)
        listed = (await http.get("/api/leads", headers=bakery, params={"q": "Maria"})).json()
        borrowed = await http.post(
            "/api/whatsapp",
            headers=bakery,
            json={"to": "+15125550142", "message": "Hi from the bakery", "phoneNumberId": phone_number_id},
        )
        console.print(
            f"another organization: the clinic's lead is HTTP {theirs.status_code}, its search finds "
            f"{len(listed['items'])} leads, sending from the clinic's number is HTTP {borrowed.status_code}",
            highlight=False,
        )
