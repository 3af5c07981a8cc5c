"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from leadledger.db import AsyncDatabase, Settings


def get_db(request: Request) -> AsyncDatabase:
    db: AsyncDatabase = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DatabaseDep = Annotated[AsyncDatabase, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
