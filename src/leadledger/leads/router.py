"""HTTP API of the leads domain: ``/api/leads``, ``/api/whatsapp`` and the WhatsApp webhook.

Three routers: the leads and the sending routes need an authenticated caller (leadledger.api.auth:
a user acting within one organization; neither ever comes from the body), and every call is
confined to the caller's organization: another organization's lead is 404 like a missing one, and
a list shows only the organization's leads. The webhook authenticates by Meta's signature instead,
and lands each message in the organization of the business number it was sent to.
Every route calls one client or service method and raises typed errors: leadledger.api.errors
answers them. Request and response models live in leadledger.leads.models.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import PlainTextResponse

from leadledger.api.auth import CurrentCaller, current_caller
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
from leadledger.log import redact_query_string

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

router = APIRouter(prefix="/api/leads", tags=["leads"], dependencies=[Depends(current_caller)])
whatsapp_router = APIRouter(prefix="/api/whatsapp", tags=["whatsapp"], dependencies=[Depends(current_caller)])
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
async def create_lead(body: NewLead, caller: CurrentCaller, leads: LeadsClientDep) -> LeadOut:
    """Create a lead (the caller's, in his organization) and its conversation together (nothing
    is written on any error)."""
    created = await leads.create_lead(
        caller.user_id,
        body.customer_phone,
        body.customer_name,
        body.type,
        body.details,
        organization_id=caller.organization_id,
    )
    return LeadOut(lead_id=created.lead_id, conversation_id=created.conversation_id)


@router.get("", response_model=LeadPage)
async def list_leads(
    caller: CurrentCaller,
    leads: LeadsClientDep,
    page: PageParams,
    lead_status: Annotated[LeadStatus | None, Query(alias="status")] = None,
    lead_type: Annotated[LeadType | None, Query(alias="type")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search in name or phone.")] = None,
) -> LeadPage:
    """The live leads of the caller's organization, newest first; follow next_cursor for the
    next page."""
    return await keyset_page(
        page,
        lambda limit, before: leads.list_leads(
            caller.user_id, limit, before, lead_status, lead_type, q, caller.organization_id
        ),
        key=lambda lead: (lead.created_at, lead.lead_id),
        max_fetch=LIST_LEADS_MAX_FETCH,
    )


@router.get("/{lead_id}", response_model=LeadDetail)
async def get_lead(lead_id: UUID, caller: CurrentCaller, leads: LeadsClientDep) -> LeadDetail:
    """One lead of the caller's organization with its conversations and their latest messages."""
    return await leads.get_lead(lead_id, caller.user_id, caller.organization_id)


@router.delete("/{lead_id}", response_model=LeadDeleted)
async def delete_lead(lead_id: UUID, caller: CurrentCaller, leads: LeadsClientDep) -> LeadDeleted:
    """Soft-delete a lead of the caller's organization and its conversation together."""
    return await leads.soft_delete_lead(lead_id, caller.user_id, caller.organization_id)


@router.post("/{lead_id}/restore", response_model=LeadDeleted)
async def restore_lead(lead_id: UUID, caller: CurrentCaller, leads: LeadsClientDep) -> LeadDeleted:
    """Bring back a soft-deleted lead of the caller's organization and its conversation."""
    return await leads.restore_lead(lead_id, caller.user_id, caller.organization_id)


# -- sending -----------------------------------------------------------------------------------


@whatsapp_router.post("", status_code=status.HTTP_201_CREATED, response_model=WhatsAppSent)
async def send_whatsapp(
    body: OutgoingMessage, caller: CurrentCaller, whatsapp: WhatsAppServiceDep
) -> WhatsAppSent:
    """Send a text message through the WhatsApp Cloud API from the WhatsApp number of the
    caller's organization (``phoneNumberId`` picks one when it has several; another
    organization's is 404; an organization without one is 503) and record it in the
    organization's conversation with the number. With createLead the lead and its conversation
    are created with the record; without it, a number that has no lead gets the message without
    lead tracking (003: nothing is stored, ``recorded`` false). The message is sent first: if
    sending fails the caller gets 502 with WhatsApp's reason and nothing is written; sent but not
    recorded is the recording error's status with ``sent: true`` and the ``wa_message_id``."""
    return await whatsapp.send_text(
        caller.user_id,
        caller.organization_id,
        body.to,
        body.message,
        create_lead=body.create_lead,
        customer_name=body.customer_name,
        phone_number_id=body.phone_number_id,
    )


# -- the webhook -------------------------------------------------------------------------------


@webhook_router.get("", response_class=PlainTextResponse)
async def verify_webhook(
    request: Request,
    whatsapp: WhatsAppServiceDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> str:
    """Meta's verification handshake: echo hub.challenge when the verify token matches (compared
    in constant time; 403 otherwise). The token travels in the query string: once read, it is
    masked in the request itself, so that the server's access log (which reads the request's
    query string when it answers) never records it, however the app is run; ``leadledger serve``
    also masks query values in every access log line (leadledger.log)."""
    raw = request.scope.get("query_string", b"")
    request.scope["query_string"] = redact_query_string(raw.decode("latin-1")).encode("latin-1")
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
