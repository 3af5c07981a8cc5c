"""HTTP API of the leads domain: ``/api/leads``, ``/api/whatsapp`` and the WhatsApp webhook.

Three routers: the leads and the sending routes need an authenticated caller (leadledger.api.auth;
the user id never comes from the body), the webhook authenticates by Meta's signature instead.
Every route calls one client or service method and raises typed errors: leadledger.api.errors
answers them. Request and response models live in leadledger.leads.models.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import PlainTextResponse

from leadledger.api.auth import CurrentUser, current_user
from leadledger.api.deps import LeadsClientDep, SettingsDep, WhatsAppServiceDep
from leadledger.api.errors import InvalidInputError
from leadledger.api.pagination import PageParams, keyset_page
from leadledger.db.settings import Settings
from leadledger.leads.models import (
    LeadDeleted,
    LeadDetail,
    LeadIn,
    LeadOut,
    LeadPage,
    LeadStatus,
    LeadType,
    PhoneText,
    WebhookReceived,
    WhatsAppSend,
    WhatsAppSent,
)
from leadledger.leads.phones import InvalidPhoneNumber, to_e164

__all__ = [
    "LeadIn",
    "LeadOut",
    "PhoneText",
    "WhatsAppSend",
    "WhatsAppSent",
    "router",
    "webhook_router",
    "whatsapp_router",
]

#: The largest p_limit list_leads takes.
LIST_LEADS_MAX_FETCH = 1000

router = APIRouter(prefix="/api/leads", tags=["leads"], dependencies=[Depends(current_user)])
whatsapp_router = APIRouter(prefix="/api/whatsapp", tags=["whatsapp"], dependencies=[Depends(current_user)])
webhook_router = APIRouter(prefix="/api/webhooks/whatsapp", tags=["whatsapp"])


# -- phone numbers: E.164 in the configured region -------------------------------------------


def _e164(raw: str, settings: Settings, field: str) -> str:
    try:
        return to_e164(raw, settings.default_phone_region)
    except InvalidPhoneNumber as exc:
        raise InvalidInputError.for_field(
            f"body.{field}", f"must be an E.164 phone number (or one that normalises to it): {exc}"
        ) from None


def _lead_in(body: LeadIn, settings: SettingsDep) -> LeadIn:
    """The body, validated with its other fields first, its phone number then in E.164."""
    return body.model_copy(update={"customer_phone": _e164(body.customer_phone, settings, "customer_phone")})


def _whatsapp_send(body: WhatsAppSend, settings: SettingsDep) -> WhatsAppSend:
    return body.model_copy(update={"to": _e164(body.to, settings, "to")})


NewLead = Annotated[LeadIn, Depends(_lead_in)]
OutgoingMessage = Annotated[WhatsAppSend, Depends(_whatsapp_send)]


# -- leads -------------------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, response_model=LeadOut)
async def create_lead(body: NewLead, user: CurrentUser, leads: LeadsClientDep) -> LeadOut:
    """Create a lead and its conversation together (nothing is written on any error)."""
    created = await leads.create_lead(user, body.customer_phone, body.customer_name, body.type, body.details)
    return LeadOut(lead_id=created.lead_id, conversation_id=created.conversation_id)


@router.get("", response_model=LeadPage)
async def list_leads(
    user: CurrentUser,
    leads: LeadsClientDep,
    page: PageParams,
    lead_status: Annotated[LeadStatus | None, Query(alias="status")] = None,
    lead_type: Annotated[LeadType | None, Query(alias="type")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search in name or phone.")] = None,
) -> LeadPage:
    """The caller's live leads, newest first; follow next_cursor for the next page."""
    return await keyset_page(
        page,
        lambda limit, before: leads.list_leads(user, limit, before, lead_status, lead_type, q),
        key=lambda lead: (lead.created_at, lead.lead_id),
        max_fetch=LIST_LEADS_MAX_FETCH,
    )


@router.get("/{lead_id}", response_model=LeadDetail)
async def get_lead(lead_id: UUID, user: CurrentUser, leads: LeadsClientDep) -> LeadDetail:
    """One lead with its conversations and their latest messages."""
    return await leads.get_lead(lead_id, user)


@router.delete("/{lead_id}", response_model=LeadDeleted)
async def delete_lead(lead_id: UUID, user: CurrentUser, leads: LeadsClientDep) -> LeadDeleted:
    """Soft-delete a lead and its conversation together."""
    return await leads.soft_delete_lead(lead_id, user)


@router.post("/{lead_id}/restore", response_model=LeadDeleted)
async def restore_lead(lead_id: UUID, user: CurrentUser, leads: LeadsClientDep) -> LeadDeleted:
    """Bring back a soft-deleted lead and its conversation."""
    return await leads.restore_lead(lead_id, user)


# -- sending -----------------------------------------------------------------------------------


@whatsapp_router.post("", status_code=status.HTTP_201_CREATED, response_model=WhatsAppSent)
async def send_whatsapp(
    body: OutgoingMessage, user: CurrentUser, whatsapp: WhatsAppServiceDep
) -> WhatsAppSent:
    """Send a text message through the WhatsApp Cloud API and record it in the number's
    conversation. With createLead the lead and its conversation are created with the record;
    without it, a number that has no lead gets the message without lead tracking (003: nothing
    is stored, ``recorded`` false). The message is sent first: if sending fails the caller gets
    502 with WhatsApp's reason and nothing is written; sent but not recorded is the recording
    error's status with ``sent: true`` and the ``wa_message_id``."""
    return await whatsapp.send_text(
        user, body.to, body.message, create_lead=body.create_lead, customer_name=body.customer_name
    )


# -- the webhook -------------------------------------------------------------------------------


@webhook_router.get("", response_class=PlainTextResponse)
async def verify_webhook(
    whatsapp: WhatsAppServiceDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> str:
    """Meta's verification handshake: echo hub.challenge when the verify token matches (403
    otherwise)."""
    return whatsapp.verify_subscription(mode, token, challenge)


@webhook_router.post("", response_model=WebhookReceived)
async def receive_webhook(
    request: Request,
    whatsapp: WhatsAppServiceDep,
    x_hub_signature_256: Annotated[str | None, Header()] = None,
) -> WebhookReceived:
    """WhatsApp Cloud API notifications: the signature is checked on the raw body first (401,
    nothing written); a body that is not JSON is 400; a write that may succeed on another
    delivery is 503 so that Meta delivers it again (D37); shapes leadledger does not know are
    acknowledged and listed in ``ignored``."""
    return await whatsapp.receive_notification(await request.body(), x_hub_signature_256)
