"""WhatsApp Cloud API: webhook signatures and payloads, and sending text messages.

Webhook notifications are checked against the Meta app secret (``X-Hub-Signature-256: sha256=
<HMAC-SHA256 of the raw body>``) before anything is parsed. Payloads are read leniently: what
this module does not know is acknowledged and logged, never an error. A notification's messages
and statuses land in the organization of the business number they were sent to.

Logs name WhatsApp ids, business number ids and error codes, never a customer's phone number,
a message or an error text (which may quote either): docs/decisions.md, issue 10.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from leadledger.db.errors import ConfigurationError, DatabaseError, LeadledgerError, StatementTimeoutError
from leadledger.db.settings import Settings
from leadledger.leads.client import AsyncLeadsClient

logger = logging.getLogger(__name__)


def sign(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 header value Meta sends for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_is_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(app_secret, body), header.strip())


# -- webhook payload (only what leadledger reads; everything else is allowed and ignored) --------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Profile(_Lenient):
    name: str | None = None


class Contact(_Lenient):
    wa_id: str | None = None
    profile: Profile | None = None


class Metadata(_Lenient):
    phone_number_id: str
    display_phone_number: str | None = None


class InboundMessage(_Lenient):
    id: str
    from_: str = Field(alias="from")
    timestamp: str | None = None
    type: str = "text"

    def body(self) -> str:
        extra = self.model_extra or {}
        part = extra.get(self.type)
        if self.type == "text" and isinstance(part, dict):
            return str(part.get("body", ""))
        if isinstance(part, dict):
            for key in ("caption", "text", "title", "body", "filename"):
                if isinstance(part.get(key), str):
                    return str(part[key])
            reply = part.get("button_reply") or part.get("list_reply")
            if isinstance(reply, dict) and isinstance(reply.get("title"), str):
                return str(reply["title"])
        return f"[{self.type}]"

    def sent_at(self) -> datetime | None:
        return _epoch(self.timestamp)


class StatusUpdate(_Lenient):
    id: str
    status: str
    timestamp: str | None = None
    recipient_id: str | None = None
    errors: list[dict[str, Any]] | None = None


class ChangeValue(_Lenient):
    messaging_product: str | None = None
    metadata: Metadata | None = None  # a change without it is ignored, not the whole notification
    contacts: list[Contact] = []
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []


class Change(_Lenient):
    field: str | None = None
    value: ChangeValue


class Entry(_Lenient):
    id: str | None = None
    changes: list[Change] = []


class WebhookPayload(_Lenient):
    object: str
    entry: list[Entry] = []


def _epoch(value: str | None) -> datetime | None:
    if value is None or not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


@dataclass
class WebhookOutcome:
    messages: int = 0
    duplicates: int = 0
    leads_created: int = 0
    statuses: int = 0
    ignored: list[str] = field(default_factory=list)


async def process_webhook(payload: dict[str, Any], client: AsyncLeadsClient) -> WebhookOutcome:
    """Store the messages and apply the statuses of one notification. Retryable database errors
    propagate (so the webhook answers 503 and Meta redelivers; storing is idempotent); anything
    this module does not understand is listed in ``ignored`` and logged."""
    outcome = WebhookOutcome()
    try:
        parsed = WebhookPayload.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        outcome.ignored.append(f"unrecognised payload: {first['msg']}")
        # The error's place and kind only: its input may be a customer's number or message.
        logger.warning(
            "whatsapp webhook: unrecognised payload",
            extra={"error_type": first["type"], "error_at": ".".join(str(p) for p in first["loc"])},
        )
        return outcome
    if parsed.object != "whatsapp_business_account":
        outcome.ignored.append(f"object {parsed.object!r}")
        logger.info("whatsapp webhook: ignored object", extra={"object": parsed.object})
        return outcome
    for entry in parsed.entry:
        for change in entry.changes:
            await _process_change(change.value, client, outcome)
    return outcome


def _redeliver(exc: LeadledgerError) -> bool:
    """Whether Meta should deliver the notification again: a retryable conflict, an unavailable
    database or a statement timeout (503), rather than a message refused for good (logged)."""
    return exc.retryable or isinstance(exc, StatementTimeoutError)


async def _process_change(value: ChangeValue, client: AsyncLeadsClient, outcome: WebhookOutcome) -> None:
    if value.metadata is None:
        outcome.ignored.append("a change without metadata.phone_number_id")
        logger.warning("whatsapp webhook: change without metadata")
        return
    owner = await client.whatsapp_number_organization(value.metadata.phone_number_id)
    if owner is None:
        outcome.ignored.append(
            f"phone_number_id {value.metadata.phone_number_id} is not linked to an organization"
        )
        logger.warning(
            "whatsapp webhook: unknown phone number id",
            extra={"phone_number_id": value.metadata.phone_number_id},
        )
        return
    names = {c.wa_id: c.profile.name for c in value.contacts if c.wa_id and c.profile}
    for message in value.messages:
        try:
            recorded = await client.record_whatsapp_message(
                owner.user_id,
                message.id,
                message.from_,
                message.body(),
                customer_name=names.get(message.from_),
                message_type=message.type if message.type.isidentifier() else "unknown",
                sent_at=message.sent_at(),
                payload=message.model_dump(by_alias=True),
                organization_id=owner.organization_id,
            )
        except DatabaseError as exc:
            if _redeliver(exc):
                raise
            outcome.ignored.append(f"message {message.id}: {exc.message}")
            logger.warning(
                "whatsapp webhook: message not stored",
                extra={"wa_message_id": message.id, "error_code": exc.error_code},
            )
            continue
        outcome.messages += 1
        outcome.duplicates += recorded.duplicate
        outcome.leads_created += recorded.lead_created
    for update in value.statuses:
        try:
            await client.update_message_status(
                update.id,
                update.status,
                _epoch(update.timestamp),
                {"errors": update.errors} if update.errors else None,
                organization_id=owner.organization_id,
            )
            outcome.statuses += 1
        except LeadledgerError as exc:
            if _redeliver(exc):
                raise
            outcome.ignored.append(f"status {update.status} of {update.id}: {exc.message}")
            logger.info(
                "whatsapp webhook: status not applied",
                extra={"wa_message_id": update.id, "error_code": exc.error_code},
            )


# -- sending -------------------------------------------------------------------------------------


class WhatsAppSendError(LeadledgerError):
    """The Cloud API refused or could not be reached; nothing was sent (or it is unknown).
    ``status_code`` is the Cloud API's HTTP status (None when it did not answer)."""

    def __init__(self, message: str, *, status_code: int | None = None, details: Any = None) -> None:
        super().__init__(message, error_code="whatsapp_send_failed")
        self.status_code = status_code
        self.details = details


class WhatsAppNotConfiguredError(ConfigurationError):
    """Sending needs a WhatsApp number linked to the caller's organization and its access token;
    the webhook needs LEADLEDGER_WHATSAPP_APP_SECRET."""


#: The one kind of access token reference: ``env:NAME``, the environment variable NAME.
ACCESS_TOKEN_REF_PREFIX = "env:"  # noqa: S105 - a prefix, not a secret


def resolve_access_token(
    phone_number_id: str, ref: str | None, settings: Settings, environ: Mapping[str, str]
) -> SecretStr:
    """The access token of a WhatsApp number from where its reference says it is: ``env:NAME``
    reads the environment variable NAME; no reference, the deployment's
    LEADLEDGER_WHATSAPP_ACCESS_TOKEN. The token itself is never stored in the database."""
    if ref is None:
        if settings.whatsapp_access_token is None:
            raise WhatsAppNotConfiguredError(
                f"WhatsApp number {phone_number_id} has no access token: link it with its own "
                "(leadledger whatsapp link --token-env NAME) or set LEADLEDGER_WHATSAPP_ACCESS_TOKEN"
            )
        return settings.whatsapp_access_token
    if not ref.startswith(ACCESS_TOKEN_REF_PREFIX):
        raise WhatsAppNotConfiguredError(
            f"WhatsApp number {phone_number_id}: unknown access token reference kind"
        )
    name = ref.removeprefix(ACCESS_TOKEN_REF_PREFIX)
    token = environ.get(name)
    if not token:
        raise WhatsAppNotConfiguredError(
            f"WhatsApp number {phone_number_id}: its access token is not set (environment variable {name})"
        )
    return SecretStr(token)


class WhatsAppCloudClient:
    """Sends text messages from one business number with ``POST {base}/{version}/
    {phone_number_id}/messages``, authenticated with that number's access token.

    One attempt per message: a send is not idempotent, so a retry after a timeout could deliver
    the message twice; the caller learns of the failure instead."""

    def __init__(
        self,
        settings: Settings,
        phone_number_id: str,
        access_token: SecretStr,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.phone_number_id = phone_number_id
        self.access_token = access_token
        self.url = (
            f"{settings.whatsapp_api_base_url.rstrip('/')}/{settings.whatsapp_api_version}/"
            f"{phone_number_id}/messages"
        )
        self.http = http

    async def send_text(self, to: str, body: str) -> str:
        """Send ``body`` to ``to`` (E.164); return the WhatsApp message id (wamid...)."""
        token = self.access_token
        request = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.lstrip("+"),
            "type": "text",
            "text": {"preview_url": False, "body": body},
        }
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        try:
            if self.http is not None:
                response = await self.http.post(self.url, json=request, headers=headers)
            else:
                async with httpx.AsyncClient(timeout=self.settings.whatsapp_timeout) as http:
                    response = await http.post(self.url, json=request, headers=headers)
        except httpx.HTTPError as exc:
            raise WhatsAppSendError(f"WhatsApp Cloud API unreachable: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = {"raw": response.text[:500]}
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            message = error.get("message") if isinstance(error, dict) else None
            raise WhatsAppSendError(
                f"WhatsApp Cloud API refused the message: {message or response.reason_phrase}",
                status_code=response.status_code,
                details=data,
            )
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise WhatsAppSendError(
                "WhatsApp Cloud API answered without a message id", details=data
            ) from None
