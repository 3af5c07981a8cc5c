"""FastAPI dependencies shared by every router: the app's database and settings, and the domain
clients and services built on them (one per request, over the app's one pool)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from leadledger.campaigns.client import AsyncCampaignsClient
from leadledger.db import AsyncDatabase, Settings
from leadledger.leads.client import AsyncLeadsClient
from leadledger.leads.service import WhatsAppService
from leadledger.orgs.client import AsyncOrgsClient


def get_db(request: Request) -> AsyncDatabase:
    db: AsyncDatabase = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DatabaseDep = Annotated[AsyncDatabase, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_campaigns_client(db: DatabaseDep) -> AsyncCampaignsClient:
    return AsyncCampaignsClient(db)


def get_leads_client(db: DatabaseDep) -> AsyncLeadsClient:
    return AsyncLeadsClient(db)


def get_orgs_client(db: DatabaseDep) -> AsyncOrgsClient:
    return AsyncOrgsClient(db)


CampaignsClientDep = Annotated[AsyncCampaignsClient, Depends(get_campaigns_client)]
LeadsClientDep = Annotated[AsyncLeadsClient, Depends(get_leads_client)]
OrgsClientDep = Annotated[AsyncOrgsClient, Depends(get_orgs_client)]


def get_whatsapp_service(leads: LeadsClientDep, settings: SettingsDep) -> WhatsAppService:
    return WhatsAppService(leads, settings)


WhatsAppServiceDep = Annotated[WhatsAppService, Depends(get_whatsapp_service)]
