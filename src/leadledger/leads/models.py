"""Pydantic models of the leads domain: enums that mirror the database's CHECK constraints, the
stored functions' results, and the HTTP API's request and response bodies."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from leadledger.api.pagination import Page
from leadledger.leads.phones import check_phone_syntax

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class LeadType(StrEnum):
    INQUIRY = "inquiry"
    QUOTE = "quote"
    BOOKING = "booking"
    ORDER = "order"
    SUPPORT = "support"
    COMPLAINT = "complaint"
    OTHER = "other"


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    LOST = "lost"


class LeadSource(StrEnum):
    API = "api"
    WHATSAPP = "whatsapp"
    IMPORT = "import"
    FORM = "form"


class ConversationStatus(StrEnum):
    ACTIVE = "active"
    WAITING = "waiting"
    CLOSED = "closed"
    ARCHIVED = "archived"


class MessageDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(StrEnum):
    RECEIVED = "received"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow")


class LeadCreated(_Result):
    lead_id: UUID
    conversation_id: UUID
    customer_phone: str


class BulkLeadCreated(_Result):
    index: int
    lead_id: UUID
    conversation_id: UUID


class BulkResult(_Result):
    created: int
    leads: list[BulkLeadCreated]


class LeadSummary(_Result):
    lead_id: UUID
    customer_phone: str
    customer_name: str | None
    lead_type: LeadType
    status: LeadStatus
    source: LeadSource
    details: str | None
    created_at: datetime
    updated_at: datetime
    conversation_id: UUID | None
    conversation_status: ConversationStatus | None
    last_message_at: datetime | None


class LeadDetail(_Result):
    lead: dict[str, Any]
    conversations: list[dict[str, Any]]


class MessageRecorded(_Result):
    duplicate: bool
    message_id: UUID
    lead_id: UUID
    conversation_id: UUID
    lead_created: bool


class OutgoingRecorded(_Result):
    message_id: UUID
    wa_message_id: str
    lead_id: UUID
    conversation_id: UUID
    lead_created: bool


class StatusApplied(_Result):
    wa_message_id: str
    status: MessageStatus
    updated: bool


class LeadDeleted(_Result):
    lead_id: UUID
    changed: bool
    conversations: int


class FoundLead(_Result):
    lead_id: UUID
    customer_name: str | None


class OwnerRow(_Result):
    """Whose a WhatsApp business number is: its organization, and the member whose its new
    leads are."""

    user_id: UUID
    organization_id: UUID


class WhatsAppNumber(_Result):
    """A WhatsApp business number of an organization. ``access_token_ref`` says where its Cloud
    API access token is (``env:NAME``: the environment variable NAME of the sending service), never
    the token; None: the deployment's LEADLEDGER_WHATSAPP_ACCESS_TOKEN."""

    phone_number_id: str
    user_id: UUID
    display_phone: str | None
    access_token_ref: str | None
    created_at: datetime


# -- HTTP request and response bodies -----------------------------------------------------------

#: A page of GET /api/leads: ``{items, next_cursor}`` (leadledger.api.pagination).
LeadPage = Page[LeadSummary]

#: A phone number as a request may write it: checked for its shape with the other fields (so one
#: 422 names every bad field); the router then normalises it to E.164 in the configured region.
PhoneText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=40),
    AfterValidator(check_phone_syntax),
]


class LeadIn(BaseModel):
    """POST /api/leads. The owner is the authenticated caller: a ``user_id`` here is refused."""

    model_config = ConfigDict(extra="forbid")

    customer_phone: PhoneText
    customer_name: Name
    type: LeadType
    details: Annotated[str, StringConstraints(max_length=10000)] | None = None


class LeadOut(BaseModel):
    lead_id: UUID
    conversation_id: UUID


class WhatsAppSend(BaseModel):
    """POST /api/whatsapp, as 003 writes it (``createLead``, ``customerName``), sent from a
    WhatsApp number of the caller's organization (``phoneNumberId`` picks one when it has
    several)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: PhoneText
    message: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    create_lead: bool = Field(default=False, alias="createLead")
    customer_name: Name | None = Field(default=None, alias="customerName", validate_default=True)
    phone_number_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,20}$")] | None = Field(
        default=None,
        alias="phoneNumberId",
        description="Which of the organization's WhatsApp numbers sends (Meta's phone number id); "
        "needed only when the organization has several.",
    )

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


class WebhookReceived(BaseModel):
    """The answer to one WhatsApp notification: what was stored and applied, and what was not
    understood (``ignored``, also logged). ``status`` is "ignored" for a body that is not a JSON
    object."""

    status: Literal["ok", "ignored"] = "ok"
    messages: int = 0
    duplicates: int = 0
    leads_created: int = 0
    statuses: int = 0
    ignored: list[str] = Field(default_factory=list)
