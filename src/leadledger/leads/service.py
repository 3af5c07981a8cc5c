"""WhatsApp as the HTTP routes use it: send and record a message, receive a notification, answer
Meta's verification handshake. Each route calls one method of :class:`WhatsAppService`; the
errors raised here are typed, and leadledger.api.errors gives each its HTTP status.

Sending follows D23 (docs/decisions.md): the Cloud API is called before anything is written, and
a message that went out but could not be recorded is :class:`MessageSentNotRecordedError`, whose
answer says ``sent: true`` with the WhatsApp id so that the caller does not send it again.
"""

from __future__ import annotations

import hmac
import json
import logging
from uuid import UUID

import httpx

from leadledger.db.errors import (
    DatabaseUnavailableError,
    LeadledgerError,
    RetryableConflictError,
    StatementTimeoutError,
)
from leadledger.db.settings import Settings
from leadledger.leads.client import AsyncLeadsClient
from leadledger.leads.models import WebhookReceived, WhatsAppSent
from leadledger.leads.whatsapp import (
    WhatsAppCloudClient,
    WhatsAppNotConfiguredError,
    process_webhook,
    signature_is_valid,
)

logger = logging.getLogger(__name__)

#: Errors that leave a notification unstored but may not on another delivery (D37).
REDELIVERABLE = (RetryableConflictError, DatabaseUnavailableError, StatementTimeoutError)


class MessageSentNotRecordedError(LeadledgerError):
    """The message went out (``wa_message_id``) but recording it failed with ``__cause__``: the
    answer is the cause's, with ``sent: true`` and the WhatsApp id added (D23)."""

    def __init__(self, cause: LeadledgerError, wa_message_id: str) -> None:
        super().__init__(
            cause.message,
            error_code=cause.error_code,
            error_detail=cause.error_detail,
            function=cause.function,
            envelope=cause.envelope,
        )
        self.wa_message_id = wa_message_id


class WebhookVerificationError(LeadledgerError):
    """Meta's verification handshake did not present the configured verify token."""


class WebhookSignatureError(LeadledgerError):
    """The notification's X-Hub-Signature-256 is missing or does not sign its body."""


class WebhookBodyError(LeadledgerError):
    """The (correctly signed) notification is not JSON."""


class WebhookRedeliveryError(LeadledgerError):
    """The notification could not be stored this time (``__cause__``: a retryable conflict, an
    unavailable database or a statement timeout): the answer asks Meta to deliver it again (D37)."""

    def __init__(self, cause: LeadledgerError) -> None:
        super().__init__(
            f"not stored, deliver again: {cause.message}",
            error_code=cause.error_code,
            function=cause.function,
        )


class WhatsAppService:
    """The WhatsApp operations of one request, over the leads client and the settings."""

    def __init__(
        self, leads: AsyncLeadsClient, settings: Settings, http: httpx.AsyncClient | None = None
    ) -> None:
        self.leads = leads
        self.settings = settings
        self.http = http

    async def send_text(
        self,
        user_id: UUID,
        to: str,
        message: str,
        *,
        create_lead: bool = False,
        customer_name: str | None = None,
    ) -> WhatsAppSent:
        """Send ``message`` to ``to`` (E.164) and record it in the number's conversation. With
        ``create_lead`` the lead and its conversation are created with the record; without it, a
        number that has no lead gets the message without lead tracking (003: nothing stored,
        ``recorded`` false). Sending comes first: if it fails (WhatsAppSendError, or
        WhatsAppNotConfiguredError without the settings) nothing is written."""
        track = create_lead or await self.leads.find_lead_by_phone(user_id, to) is not None
        wa_id = await WhatsAppCloudClient(self.settings, self.http).send_text(to, message)
        if not track:
            return WhatsAppSent(
                message_id=None,
                wa_message_id=wa_id,
                lead_id=None,
                conversation_id=None,
                lead_created=False,
                recorded=False,
            )
        try:
            recorded = await self.leads.record_whatsapp_outgoing(
                user_id, to, message, wa_id, create_lead, customer_name
            )
        except LeadledgerError as exc:
            logger.error(
                "whatsapp: message sent but not recorded",
                extra={"wa_message_id": wa_id, "to": to, "error": str(exc)},
            )
            raise MessageSentNotRecordedError(exc, wa_id) from exc
        return WhatsAppSent.model_validate(recorded.model_dump())

    def verify_subscription(self, mode: str | None, token: str | None, challenge: str | None) -> str:
        """Meta's verification handshake: the challenge to echo when the verify token matches."""
        expected = self.settings.whatsapp_verify_token
        if (
            mode == "subscribe"
            and expected is not None
            and token is not None
            and hmac.compare_digest(expected.get_secret_value().encode(), token.encode())
            and challenge is not None
        ):
            return challenge
        raise WebhookVerificationError("verification failed")

    async def receive_notification(self, raw: bytes, signature: str | None) -> WebhookReceived:
        """One Cloud API notification: the signature is checked on the raw body first (nothing is
        parsed or written before), then the messages are stored and the statuses applied. Shapes
        leadledger does not know are acknowledged and listed in ``ignored``."""
        if self.settings.whatsapp_app_secret is None:
            raise WhatsAppNotConfiguredError(
                "WhatsApp webhooks are not configured: set LEADLEDGER_WHATSAPP_APP_SECRET"
            )
        if not signature_is_valid(self.settings.whatsapp_app_secret.get_secret_value(), raw, signature):
            raise WebhookSignatureError("invalid or missing X-Hub-Signature-256")
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WebhookBodyError("body is not JSON") from None
        if not isinstance(payload, dict):
            logger.warning("whatsapp webhook: body is not an object")
            return WebhookReceived(status="ignored", ignored=["body is not a JSON object"])
        try:
            outcome = await process_webhook(payload, self.leads)
        except REDELIVERABLE as exc:
            logger.warning(
                "whatsapp webhook: retryable failure; Meta will redeliver", extra={"error": str(exc)}
            )
            raise WebhookRedeliveryError(exc) from exc
        return WebhookReceived(
            messages=outcome.messages,
            duplicates=outcome.duplicates,
            leads_created=outcome.leads_created,
            statuses=outcome.statuses,
            ignored=outcome.ignored,
        )
