"""HTTP API of the leads domain: ``/api/leads``, the WhatsApp webhook and ``/api/whatsapp``.

The user id comes from authentication (:mod:`leadledger.api.auth`), never from the body. The
webhook authenticates by Meta's signature instead.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from leadledger.api.auth import CurrentUser
from leadledger.api.deps import DatabaseDep, SettingsDep
from leadledger.api.errors import status_for
from leadledger.db.errors import (
    DatabaseUnavailableError,
    LeadledgerError,
    RetryableConflictError,
    StatementTimeoutError,
)
from leadledger.leads.client import AsyncLeadsClient
from leadledger.leads.models import LeadDeleted, LeadDetail, LeadPage, LeadStatus, LeadType
from leadledger.leads.phones import InvalidPhoneNumber, check_phone_syntax, to_e164
from leadledger.leads.whatsapp import (
    WhatsAppCloudClient,
    WhatsAppSendError,
    process_webhook,
    signature_is_valid,
)

logger = logging.getLogger(__name__)

router = APIRouter(tags=["leads"])


#: A phone number as a request may write it: checked for its shape with the other fields (so one
#: 422 names every bad field); the route then normalises it to E.164 in the configured region.
PhoneText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=40),
    AfterValidator(check_phone_syntax),
]


class LeadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_phone: PhoneText
    customer_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    type: LeadType
    details: Annotated[str, StringConstraints(max_length=10000)] | None = None


class LeadOut(BaseModel):
    lead_id: UUID
    conversation_id: UUID


class WhatsAppSend(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: PhoneText
    message: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    create_lead: bool = Field(default=False, alias="createLead")
    customer_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None
    ) = Field(default=None, alias="customerName", validate_default=True)

    @field_validator("customer_name")
    @classmethod
    def _name_needed_to_create_a_lead(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("create_lead"):
            raise ValueError("customerName is required when createLead is true")
        return value


class WhatsAppSent(BaseModel):
    """A sent message. ``recorded`` is false for a message to a number without a lead sent
    without createLead: 003 sends it "without lead tracking", so nothing is stored and the ids
    of the stored message, lead and conversation are null (docs/decisions.md D23)."""

    message_id: UUID | None
    wa_message_id: str
    lead_id: UUID | None
    conversation_id: UUID | None
    lead_created: bool
    recorded: bool = True


def field_error(field: str, message: str, value: Any = None) -> HTTPException:
    """A 422 in FastAPI's own shape, naming the body field."""
    return HTTPException(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"type": "value_error", "loc": ["body", field], "msg": message, "input": value}],
    )


def _phone(raw: str, region: str, field: str) -> str:
    try:
        return to_e164(raw, region)
    except InvalidPhoneNumber as exc:
        raise field_error(
            field, f"must be an E.164 phone number (or one that normalises to it): {exc}", raw
        ) from None


def encode_cursor(created_at: datetime, lead_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{lead_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, lead_id = text.split("|")
        return datetime.fromisoformat(created_at), UUID(lead_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(
            status_code=422,
            detail=[
                {"type": "value_error", "loc": ["query", "cursor"], "msg": "invalid cursor", "input": cursor}
            ],
        ) from None


# -- leads ---------------------------------------------------------------------------------------


@router.post("/api/leads", status_code=status.HTTP_201_CREATED, response_model=LeadOut)
async def create_lead(body: LeadIn, user: CurrentUser, db: DatabaseDep, settings: SettingsDep) -> LeadOut:
    """Create a lead and its conversation together (nothing is written on any error)."""
    phone = _phone(body.customer_phone, settings.default_phone_region, "customer_phone")
    created = await AsyncLeadsClient(db).create_lead(user, phone, body.customer_name, body.type, body.details)
    return LeadOut(lead_id=created.lead_id, conversation_id=created.conversation_id)


@router.get("/api/leads", response_model=LeadPage)
async def list_leads(
    user: CurrentUser,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    lead_status: Annotated[LeadStatus | None, Query(alias="status")] = None,
    lead_type: Annotated[LeadType | None, Query(alias="type")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search in name or phone.")] = None,
) -> LeadPage:
    """The caller's live leads, newest first; follow next_cursor for the next page."""
    before = decode_cursor(cursor) if cursor else None
    items = await AsyncLeadsClient(db).list_leads(user, limit + 1, before, lead_status, lead_type, q)
    next_cursor = (
        encode_cursor(items[limit - 1].created_at, items[limit - 1].lead_id) if len(items) > limit else None
    )
    return LeadPage(items=items[:limit], next_cursor=next_cursor)


@router.get("/api/leads/{lead_id}", response_model=LeadDetail)
async def get_lead(lead_id: UUID, user: CurrentUser, db: DatabaseDep) -> LeadDetail:
    """One lead with its conversations and their latest messages."""
    return await AsyncLeadsClient(db).get_lead(lead_id, user)


@router.delete("/api/leads/{lead_id}", response_model=LeadDeleted)
async def delete_lead(lead_id: UUID, user: CurrentUser, db: DatabaseDep) -> LeadDeleted:
    """Soft-delete a lead and its conversation together."""
    return await AsyncLeadsClient(db).soft_delete_lead(lead_id, user)


@router.post("/api/leads/{lead_id}/restore", response_model=LeadDeleted)
async def restore_lead(lead_id: UUID, user: CurrentUser, db: DatabaseDep) -> LeadDeleted:
    """Bring back a soft-deleted lead and its conversation."""
    return await AsyncLeadsClient(db).restore_lead(lead_id, user)


# -- WhatsApp ------------------------------------------------------------------------------------


@router.get("/api/webhooks/whatsapp", response_class=PlainTextResponse)
async def verify_webhook(
    settings: SettingsDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """Meta's verification handshake: echo hub.challenge when the verify token matches."""
    expected = settings.whatsapp_verify_token.get_secret_value() if settings.whatsapp_verify_token else None
    if mode == "subscribe" and expected and token == expected and challenge is not None:
        return PlainTextResponse(challenge)
    raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="verification failed")


@router.post("/api/webhooks/whatsapp")
async def receive_webhook(request: Request, db: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """WhatsApp Cloud API notifications: the signature is checked on the raw body first (401, nothing
    written); a malformed body is 400; shapes leadledger does not know are acknowledged and logged."""
    if settings.whatsapp_app_secret is None:
        return JSONResponse({"error": "WhatsApp app secret is not configured"}, status_code=503)
    raw = await request.body()
    if not signature_is_valid(
        settings.whatsapp_app_secret.get_secret_value(), raw, request.headers.get("X-Hub-Signature-256")
    ):
        return JSONResponse({"error": "invalid or missing X-Hub-Signature-256"}, status_code=401)
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    if not isinstance(payload, dict):
        logger.warning("whatsapp webhook: body is not an object")
        return JSONResponse({"status": "ignored", "ignored": ["body is not a JSON object"]})
    try:
        outcome = await process_webhook(payload, AsyncLeadsClient(db))
    except (RetryableConflictError, DatabaseUnavailableError, StatementTimeoutError) as exc:
        logger.warning("whatsapp webhook: retryable failure; Meta will redeliver", extra={"error": str(exc)})
        return JSONResponse(
            {"error": "temporarily unavailable"}, status_code=503, headers={"Retry-After": "5"}
        )
    return JSONResponse(
        {
            "status": "ok",
            "messages": outcome.messages,
            "duplicates": outcome.duplicates,
            "leads_created": outcome.leads_created,
            "statuses": outcome.statuses,
            "ignored": outcome.ignored,
        }
    )


@router.post("/api/whatsapp", status_code=status.HTTP_201_CREATED, response_model=WhatsAppSent)
async def send_whatsapp(body: WhatsAppSend, user: CurrentUser, db: DatabaseDep, settings: SettingsDep) -> Any:
    """Send a text message through the WhatsApp Cloud API and record it in the number's
    conversation. With createLead the lead and its conversation are created with the record;
    without it, a number that has no lead gets the message without lead tracking (003: nothing
    is stored, ``recorded`` false). The message is sent first: if sending fails the caller gets
    502 with WhatsApp's reason and nothing is written."""
    to = _phone(body.to, settings.default_phone_region, "to")
    client = AsyncLeadsClient(db)
    track = body.create_lead or await client.find_lead_by_phone(user, to) is not None
    try:
        wa_id = await WhatsAppCloudClient(settings).send_text(to, body.message)
    except WhatsAppSendError as exc:
        return JSONResponse(
            {"error": exc.message, "whatsapp_status": exc.status_code, "details": exc.details},
            status_code=502,
        )
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
        recorded = await client.record_whatsapp_outgoing(
            user, to, body.message, wa_id, body.create_lead, body.customer_name
        )
    except LeadledgerError as exc:
        # Sent but not recorded (D23): the caller must not think the message did not go out.
        logger.error(
            "whatsapp: message sent but not recorded",
            extra={"wa_message_id": wa_id, "to": to, "error": str(exc)},
        )
        return JSONResponse(
            {"error": exc.message, "error_code": exc.error_code, "sent": True, "wa_message_id": wa_id},
            status_code=status_for(exc),
        )
    return WhatsAppSent.model_validate(recorded.model_dump())
