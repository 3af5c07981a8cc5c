"""The FastAPI application factory. ``leadledger serve`` runs it under uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from leadledger import __version__
from leadledger.api import health
from leadledger.api.errors import ERROR_RESPONSES, install_error_handlers
from leadledger.campaigns.router import router as campaigns_router
from leadledger.db import AsyncDatabase, Settings
from leadledger.db.embedded import EmbeddedServer
from leadledger.db.pool import resolve_database_url
from leadledger.leads.router import router as leads_router
from leadledger.leads.router import webhook_router as whatsapp_webhook_router
from leadledger.leads.router import whatsapp_router
from leadledger.orgs.router import keys_router
from leadledger.orgs.router import router as orgs_router


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    embedded: EmbeddedServer | None = None,
) -> FastAPI:
    """Build the app. The pool opens at startup without waiting for the server, so a service
    whose database is down still starts and reports 503 on /api/health. With ``database_url``
    the app uses that URL (``embedded``: the server behind it, released at shutdown); without
    it the URL is resolved at startup from the settings."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database_url is None:
            url, server = await anyio.to_thread.run_sync(resolve_database_url, settings)
        else:
            url, server = database_url, embedded
        db = AsyncDatabase(url, settings, embedded=server)
        await db.open()
        app.state.db = db
        app.state.settings = settings
        try:
            yield
        finally:
            await db.close()

    app = FastAPI(title="leadledger", version=__version__, lifespan=lifespan, responses=ERROR_RESPONSES)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(campaigns_router)
    app.include_router(leads_router)
    app.include_router(whatsapp_router)
    app.include_router(whatsapp_webhook_router)
    app.include_router(orgs_router)
    app.include_router(keys_router)
    return app
