"""The organizations walk-through of ``leadledger demo``: two organizations, a member with an API
key in each, a campaign and a lead each through the real HTTP service (in-process); each member
lists only his organization's rows, the other's ids answer 404 as missing ones do, and a revoked
key is refused at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio
import httpx
from rich.console import Console
from rich.table import Table

from leadledger.api import create_app
from leadledger.api.auth import new_api_key
from leadledger.db import Database, Settings
from leadledger.orgs.client import OrgsClient
from leadledger.orgs.models import Role

#: (organization, its member's name, a campaign, a lead's phone): one row per tenant.
TENANTS = (
    ("Acme Roofing", "Ana Acme", "Roofers of Dallas", "+12145550111"),
    ("Bright Smile Dental", "Ben Bright", "Dentists of Houston", "+17135550122"),
)


@dataclass
class Tenant:
    organization: str
    organization_id: UUID
    email: str
    key: str
    campaign: str
    phone: str
    campaign_id: str = ""
    lead_id: str = ""
    api_key_id: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


def run(db: Database, settings: Settings, console: Console) -> None:
    console.rule("organizations: two tenants that cannot see each other")
    orgs = OrgsClient(db)
    tenants = []
    for organization, name, campaign, phone in TENANTS:
        # Each run makes new organizations and users, so the demo can run again on one database.
        email = f"{name.split()[0].lower()}-{secrets.token_hex(3)}@{organization.split()[0].lower()}.example"
        organization_id = orgs.create_organization(organization).organization_id
        user = orgs.create_user(email, name, organization_id, Role.OWNER)
        key, digest = new_api_key()
        orgs.create_api_key(user.user_id, digest, "demo", organization_id=organization_id)
        tenants.append(Tenant(organization, organization_id, email, key, campaign, phone))
        console.print(f"organization {organization}: owner {email}, with an API key")
    anyio.run(_walk_through, db.url, settings, tenants, console)


async def _walk_through(url: str, settings: Settings, tenants: list[Tenant], console: Console) -> None:
    app = create_app(settings, database_url=url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leadledger") as http,
    ):
        for t in tenants:
            campaign = await http.post(
                "/api/campaigns",
                headers=t.auth,
                json={"name": t.campaign, "zip_codes": [{"zip_code": "75201"}]},
            )
            t.campaign_id = _field(campaign, "campaign_id")
            lead = await http.post(
                "/api/leads",
                headers=t.auth,
                json={
                    "customer_phone": t.phone,
                    "customer_name": f"Customer of {t.organization}",
                    "type": "quote",
                },
            )
            t.lead_id = _field(lead, "lead_id")
            console.print(
                f"{t.organization} created campaign {t.campaign!r} and a lead (POST, its own API key)"
            )

        table = Table(title="what each member lists (GET /api/campaigns, GET /api/leads)")
        for column in ("member of", "campaigns", "leads"):
            table.add_column(column)
        seen: dict[str, tuple[set[str], set[str]]] = {}
        for t in tenants:
            campaigns = (await http.get("/api/campaigns", headers=t.auth, params={"limit": 500})).json()
            leads = (await http.get("/api/leads", headers=t.auth, params={"limit": 500})).json()
            campaign_ids = {c["id"] for c in campaigns.get("items", [])}
            lead_ids = {lead["lead_id"] for lead in leads.get("items", [])}
            seen[t.organization] = (campaign_ids, lead_ids)
            table.add_row(
                t.organization,
                ", ".join(c["name"] for c in campaigns.get("items", [])),
                ", ".join(lead["customer_name"] or lead["customer_phone"] for lead in leads.get("items", [])),
            )
        console.print(table)
        for t, other in ((tenants[0], tenants[1]), (tenants[1], tenants[0])):
            campaign_ids, lead_ids = seen[t.organization]
            if campaign_ids == {t.campaign_id} and lead_ids == {t.lead_id}:
                console.print(f"{t.organization} lists only its own campaign and lead")
            else:
                console.print(f"[bold red]{t.organization} lists rows that are not its own[/]")
            answers = [
                (await http.get(f"/api/campaigns/{other.campaign_id}", headers=t.auth)).status_code,
                (await http.get(f"/api/leads/{other.lead_id}", headers=t.auth)).status_code,
                (await http.get(f"/api/campaigns/{UUID(int=1)}", headers=t.auth)).status_code,
            ]
            console.print(
                f"{t.organization} asks for {other.organization}'s campaign and lead: HTTP {answers[0]},"
                f" {answers[1]} (a campaign that does not exist: HTTP {answers[2]})"
            )

        acme = tenants[0]
        created = await http.post("/api/keys", headers=acme.auth, json={"name": "ci"})
        ci = {"X-API-Key": _field(created, "api_key")}
        before = (await http.get("/api/orgs/current", headers=ci)).status_code
        await http.post(f"/api/keys/{_field(created, 'api_key_id')}/revoke", headers=acme.auth)
        after = (await http.get("/api/orgs/current", headers=ci)).status_code
        console.print(
            f"{acme.organization}'s owner creates a key 'ci' (HTTP {before} with it), revokes it:"
            f" the next request with it is HTTP {after}"
        )
        members = (await http.get("/api/orgs/current/members", headers=acme.auth)).json()
        console.print(
            f"{acme.organization}'s members: "
            + ", ".join(f"{m['email']} ({m['role']})" for m in members.get("items", []))
        )


def _field(response: httpx.Response, name: str) -> Any:
    body = response.json()
    if response.status_code >= 300 or name not in body:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: HTTP {response.status_code} {body}"
        )
    return body[name]
