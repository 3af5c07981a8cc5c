"""WhatsApp as the HTTP routes use it: send and record a message, receive a notification, answer
Meta's verification handshake. Each route calls one method of :class:`WhatsAppService`; the
errors raised here are typed, and leadledger.api.errors gives each its HTTP status.

Sending follows D23 (docs/decisions.md): the Cloud API is called before anything is written, and
a message that went out but could not be recorded is :class:`MessageSentNotRecordedError`, whose
answer says ``sent: true`` with the WhatsApp id so that the caller does not send it again. It goes
out from a WhatsApp number of the caller's organization only, with that number's access token
(issue 10): another organization's number is not found, and an organization without one is not
configured for sending (no global fallback).

Nothing here logs a customer's phone number, a message, a token or an error text (which may quote
a phone number): error codes and WhatsApp ids only.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Mapping
from uuid import UUID

import httpx

from leadledger.db.errors import (
    DatabaseUnavailableError,
    LeadledgerError,
    ReferencedRecordNotFoundError,
    RetryableConflictError,
    StatementTimeoutError,
    ValidationError,
)
from leadledger.db.settings import Settings
from leadledger.leads.client import AsyncLeadsClient
from leadledger.leads.models import WebhookReceived, WhatsAppNumber, WhatsAppSent
from leadledger.leads.whatsapp import (
    WhatsAppCloudClient,
    WhatsAppNotConfiguredError,
    process_webhook,
    resolve_access_token,
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


class SendingNumberRequiredError(ValidationError):
    """The caller's organization has several WhatsApp numbers and the request named none (422
    naming ``body.phoneNumberId``)."""

    def __init__(self, count: int) -> None:
        message = f"is required: the organization has {count} WhatsApp numbers, say which one sends"
        super().__init__(
            f"body.phoneNumberId: {message}",
            envelope={"errors": [{"field": "body.phoneNumberId", "message": message}]},
        )


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
        self,
        leads: AsyncLeadsClient,
        settings: Settings,
        http: httpx.AsyncClient | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.leads = leads
        self.settings = settings
        self.http = http
        #: Where ``env:NAME`` access token references are read (the process environment).
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    async def sending_number(
        self, organization_id: UUID, phone_number_id: str | None = None
    ) -> WhatsAppNumber:
        """The organization's WhatsApp number that sends: the one named (another organization's,
        or an unknown one, is 'WhatsApp number not found', 404), else its only one (several: 422
        naming phoneNumberId; none: not configured, 503)."""
        numbers = await self.leads.list_whatsapp_numbers(organization_id)
        if phone_number_id is not None:
            for number in numbers:
                if number.phone_number_id == phone_number_id:
                    return number
            raise ReferencedRecordNotFoundError("WhatsApp number not found")
        if not numbers:
            raise WhatsAppNotConfiguredError(
                "WhatsApp sending is not configured for this organization: no WhatsApp number is "
                "linked to it (LEADLEDGER_WHATSAPP_PHONE_NUMBER_ID no longer sends for every "
                "organization); link its own: leadledger whatsapp link --org <organization> "
                "--user <member> --phone-number-id <id> [--token-env NAME]"
            )
        if len(numbers) > 1:
            raise SendingNumberRequiredError(len(numbers))
        return numbers[0]

    async def send_text(
        self,
        user_id: UUID,
        organization_id: UUID,
        to: str,
        message: str,
        *,
        create_lead: bool = False,
        customer_name: str | None = None,
        phone_number_id: str | None = None,
    ) -> WhatsAppSent:
        """Send ``message`` to ``to`` (E.164) from the organization's WhatsApp number
        (:meth:`sending_number`) with that number's access token, and record it in the
        organization's conversation with the number. With ``create_lead`` the lead (the user's)
        and its conversation are created with the record; without it, a number that has no lead
        gets the message without lead tracking (003: nothing stored, ``recorded`` false). Sending
        comes first: if it fails (WhatsAppSendError; WhatsAppNotConfiguredError without a number
        or its token; not found for another organization's number) nothing is written."""
        number = await self.sending_number(organization_id, phone_number_id)
        token = resolve_access_token(
            number.phone_number_id, number.access_token_ref, self.settings, self.environ
        )
        track = create_lead or await self.leads.find_lead_by_phone(user_id, to, organization_id) is not None
        sender = WhatsAppCloudClient(self.settings, number.phone_number_id, token, self.http)
        wa_id = await sender.send_text(to, message)
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
                user_id, to, message, wa_id, create_lead, customer_name, organization_id
            )
        except LeadledgerError as exc:
            # The WhatsApp id finds the message (and its recipient) at Meta; no phone number here.
            logger.error(
                "whatsapp: message sent but not recorded",
                extra={
                    "wa_message_id": wa_id,
                    "organization_id": str(organization_id),
                    "error_code": exc.error_code,
                },
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
                "whatsapp webhook: retryable failure; Meta will redeliver",
                extra={"error_code": exc.error_code},
            )
            raise WebhookRedeliveryError(exc) from exc
        return WebhookReceived(
            messages=outcome.messages,
            duplicates=outcome.duplicates,
            leads_created=outcome.leads_created,
            statuses=outcome.statuses,
            ignored=outcome.ignored,
        )
