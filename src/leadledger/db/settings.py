"""Configuration, read once from the environment (prefix ``LEADLEDGER_``) by pydantic-settings.

``LEADLEDGER_DATABASE_URL`` (or plain ``DATABASE_URL``) selects any PostgreSQL >= 15; when neither
is set leadledger starts its embedded server (see :mod:`leadledger.db.embedded`).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field, PositiveFloat, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("leadledger", appauthor=False)) / "pg18"


class Settings(BaseSettings):
    """Every knob leadledger has. Each field reads ``LEADLEDGER_<FIELD>`` from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="LEADLEDGER_",
        env_file=None,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LEADLEDGER_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL URL or conninfo; unset means the embedded server.",
    )
    embedded_data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Data directory of the embedded server (kept and reused between runs).",
    )

    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: PositiveInt = 20
    pool_max_idle: PositiveFloat = Field(default=30.0, description="Seconds an idle connection lives.")
    pool_timeout: PositiveFloat = Field(
        default=30.0, description="Seconds a caller waits for a free pooled connection."
    )
    connect_timeout: PositiveInt = Field(default=10, description="Seconds to open one connection.")
    statement_timeout: PositiveFloat = Field(
        default=30.0, description="Seconds any one call may run before the server cancels it."
    )

    retry_attempts: PositiveInt = Field(default=3, description="Attempts per call, the first included.")
    retry_base_delay: PositiveFloat = Field(default=0.05, description="First backoff ceiling, seconds.")
    retry_max_delay: PositiveFloat = Field(default=2.0, description="Largest backoff ceiling, seconds.")

    health_timeout: PositiveFloat = Field(
        default=2.0, description="Seconds /api/health waits for a connection before answering 503."
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"

    # Authentication of the HTTP API: API keys (stored hashed) and/or Supabase-compatible JWTs.
    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 secret of the JWTs to accept (Supabase: the project's JWT secret)."
    )
    jwt_audience: str | None = Field(default="authenticated", description="Required 'aud' claim; empty: any.")

    # Phone numbers without a country code are read in this region (ISO 3166 code).
    default_phone_region: str = "US"

    # WhatsApp Cloud API.
    whatsapp_api_base_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v21.0"
    whatsapp_phone_number_id: str | None = Field(
        default=None,
        description="No longer read: since issue 10 an organization sends from its own linked number "
        "(`leadledger whatsapp link`); kept so that old environments still load.",
    )
    whatsapp_access_token: SecretStr | None = Field(
        default=None,
        description="Cloud API access token of the numbers linked without a token reference of their own.",
    )
    whatsapp_app_secret: SecretStr | None = Field(
        default=None, description="Meta app secret: the webhook's X-Hub-Signature-256 is checked with it."
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None, description="The token Meta's webhook verification handshake must present."
    )
    whatsapp_timeout: PositiveFloat = 10.0
