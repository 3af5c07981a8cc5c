"""Pydantic models of the leads domain. Enums mirror the database's CHECK constraints."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


class UserCreated(_Result):
    user_id: UUID
    email: str


class ApiKeyCreated(_Result):
    api_key_id: UUID
    user_id: UUID


class Authenticated(_Result):
    user_id: UUID
    api_key_id: UUID


class FoundLead(_Result):
    lead_id: UUID
    customer_name: str | None


class OwnerRow(_Result):
    user_id: UUID


class LeadPage(BaseModel):
    items: list[LeadSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")
