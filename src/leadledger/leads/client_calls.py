"""The leads domain's operations, written once for both clients: :class:`Calls` turns a
method's arguments into a :class:`~leadledger.db.calls.Call`; the clients
(:mod:`leadledger.leads.client`) only execute it.

Every operation takes ``organization_id`` last (``p_organization_id``): the organization the call
is confined to (docs/decisions.md D47). The HTTP API passes its caller's; the service may leave it
out where the user it names belongs to one organization (the functions then take that one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from leadledger.db.calls import BATCH_STATEMENT_TIMEOUT, Call
from leadledger.leads.models import (
    BulkResult,
    FoundLead,
    LeadCreated,
    LeadDeleted,
    LeadDetail,
    LeadStatus,
    LeadSummary,
    LeadType,
    MessageRecorded,
    OutgoingRecorded,
    OwnerRow,
    StatusApplied,
    WhatsAppNumber,
)

#: Attempts for the bulk import and webhook writes (idempotent or all-or-nothing, so safe).
BATCH_ATTEMPTS = 5


def _a(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


class Calls:
    @staticmethod
    def create_lead(
        user_id: UUID,
        customer_phone: str,
        customer_name: str | None,
        lead_type: LeadType | str,
        details: str | None = None,
        conversation_status: str = "active",
        lead_status: str = "new",
        organization_id: UUID | None = None,
    ) -> Call[LeadCreated]:
        return Call(
            "create_lead_with_conversation",
            {
                "p_user_id": user_id,
                "p_customer_phone": customer_phone,
                "p_customer_name": customer_name,
                "p_lead_type": str(lead_type),
                "p_details": details,
                "p_conversation_status": conversation_status,
                "p_lead_status": lead_status,
                "p_organization_id": organization_id,
            },
            _a(LeadCreated),
        )

    @staticmethod
    def import_leads(
        user_id: UUID, leads: Sequence[Mapping[str, Any]], organization_id: UUID | None = None
    ) -> Call[BulkResult]:
        return Call(
            "create_leads_with_conversations",
            {
                "p_user_id": user_id,
                "p_leads": [dict(item) for item in leads],
                "p_organization_id": organization_id,
            },
            _a(BulkResult),
            attempts=BATCH_ATTEMPTS,
            statement_timeout=BATCH_STATEMENT_TIMEOUT,
        )

    @staticmethod
    def record_whatsapp_message(
        user_id: UUID,
        wa_message_id: str,
        from_phone: str,
        body: str | None,
        customer_name: str | None = None,
        message_type: str = "text",
        sent_at: datetime | None = None,
        payload: Mapping[str, Any] | None = None,
        organization_id: UUID | None = None,
    ) -> Call[MessageRecorded]:
        return Call(
            "record_whatsapp_message",
            {
                "p_user_id": user_id,
                "p_wa_message_id": wa_message_id,
                "p_from_phone": from_phone,
                "p_body": body,
                "p_customer_name": customer_name,
                "p_message_type": message_type,
                "p_sent_at": sent_at,
                "p_payload": dict(payload) if payload is not None else None,
                "p_organization_id": organization_id,
            },
            _a(MessageRecorded),
            attempts=BATCH_ATTEMPTS,
        )

    @staticmethod
    def record_whatsapp_outgoing(
        user_id: UUID,
        to_phone: str,
        body: str,
        wa_message_id: str,
        create_lead: bool = False,
        customer_name: str | None = None,
        organization_id: UUID | None = None,
    ) -> Call[OutgoingRecorded]:
        return Call(
            "record_whatsapp_outgoing",
            {
                "p_user_id": user_id,
                "p_to_phone": to_phone,
                "p_body": body,
                "p_wa_message_id": wa_message_id,
                "p_create_lead": create_lead,
                "p_customer_name": customer_name,
                "p_organization_id": organization_id,
            },
            _a(OutgoingRecorded),
            attempts=BATCH_ATTEMPTS,
        )

    @staticmethod
    def update_message_status(
        wa_message_id: str,
        status: str,
        at: datetime | None = None,
        error: Mapping[str, Any] | None = None,
        organization_id: UUID | None = None,
    ) -> Call[StatusApplied]:
        return Call(
            "update_whatsapp_message_status",
            {
                "p_wa_message_id": wa_message_id,
                "p_status": status,
                "p_at": at,
                "p_error": dict(error) if error is not None else None,
                "p_organization_id": organization_id,
            },
            _a(StatusApplied),
            attempts=BATCH_ATTEMPTS,
        )

    @staticmethod
    def soft_delete_lead(
        lead_id: UUID, user_id: UUID | None = None, organization_id: UUID | None = None
    ) -> Call[LeadDeleted]:
        return Call(
            "soft_delete_lead",
            {"p_lead_id": lead_id, "p_user_id": user_id, "p_organization_id": organization_id},
            _a(LeadDeleted),
        )

    @staticmethod
    def restore_lead(
        lead_id: UUID, user_id: UUID | None = None, organization_id: UUID | None = None
    ) -> Call[LeadDeleted]:
        return Call(
            "restore_lead",
            {"p_lead_id": lead_id, "p_user_id": user_id, "p_organization_id": organization_id},
            _a(LeadDeleted),
        )

    @staticmethod
    def get_lead(
        lead_id: UUID, user_id: UUID | None = None, organization_id: UUID | None = None
    ) -> Call[LeadDetail]:
        return Call(
            "get_lead",
            {"p_lead_id": lead_id, "p_user_id": user_id, "p_organization_id": organization_id},
            _a(LeadDetail),
        )

    @staticmethod
    def list_leads(
        user_id: UUID,
        limit: int = 50,
        before: tuple[datetime, UUID] | None = None,
        status: LeadStatus | str | None = None,
        lead_type: LeadType | str | None = None,
        search: str | None = None,
        organization_id: UUID | None = None,
    ) -> Call[list[LeadSummary]]:
        return Call(
            "list_leads",
            {
                "p_user_id": user_id,
                "p_limit": limit,
                "p_before_created_at": before[0] if before else None,
                "p_before_id": before[1] if before else None,
                "p_status": str(status) if status else None,
                "p_lead_type": str(lead_type) if lead_type else None,
                "p_search": search,
                "p_organization_id": organization_id,
            },
            _a(list[LeadSummary]),
            rows=True,
        )

    @staticmethod
    def link_whatsapp_number(
        user_id: UUID,
        phone_number_id: str,
        display_phone: str | None = None,
        access_token_ref: str | None = None,
        organization_id: UUID | None = None,
    ) -> Call[dict[str, Any]]:
        return Call(
            "link_whatsapp_number",
            {
                "p_user_id": user_id,
                "p_phone_number_id": phone_number_id,
                "p_display_phone": display_phone,
                "p_access_token_ref": access_token_ref,
                "p_organization_id": organization_id,
            },
            _a(dict[str, Any]),
        )

    @staticmethod
    def list_whatsapp_numbers(organization_id: UUID | None = None) -> Call[list[WhatsAppNumber]]:
        return Call(
            "list_whatsapp_numbers",
            {"p_organization_id": organization_id},
            _a(list[WhatsAppNumber]),
            rows=True,
        )

    @staticmethod
    def find_lead_by_phone(
        user_id: UUID, phone: str, organization_id: UUID | None = None
    ) -> Call[list[FoundLead]]:
        return Call(
            "find_lead_by_phone",
            {"p_user_id": user_id, "p_phone": phone, "p_organization_id": organization_id},
            _a(list[FoundLead]),
            rows=True,
        )

    @staticmethod
    def whatsapp_number_owner(
        phone_number_id: str, organization_id: UUID | None = None
    ) -> Call[list[OwnerRow]]:
        return Call(
            "whatsapp_number_owner",
            {"p_phone_number_id": phone_number_id, "p_organization_id": organization_id},
            _a(list[OwnerRow]),
            rows=True,
        )
