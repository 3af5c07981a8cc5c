"""The leads domain's client: leads and conversations, WhatsApp messages and numbers (users
and API keys: :mod:`leadledger.orgs.client`). Each method is one stored-function call, built by
:class:`~leadledger.leads.client_calls.Calls`.

Every method takes ``organization_id`` last: the organization the call is confined to. The HTTP
API passes its caller's organization (and user); the service (CLI, workers) may leave it out
when the user it names belongs to one organization, or, for the calls on one lead by id, to act
in any organization.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from leadledger.db.calls import AsyncCaller
from leadledger.leads.client_calls import Calls
from leadledger.leads.models import (
    BulkResult,
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


class AsyncLeadsClient(AsyncCaller):
    """The leads domain over the given :class:`~leadledger.db.AsyncDatabase`."""

    async def link_whatsapp_number(
        self,
        user_id: UUID,
        phone_number_id: str,
        display_phone: str | None = None,
        access_token_ref: str | None = None,
        organization_id: UUID | None = None,
    ) -> dict[str, Any]:
        """Link a WhatsApp business number to an organization (and the member whose its new leads
        are); ``access_token_ref`` (``env:NAME``) says where its access token is."""
        return await self._run(
            Calls.link_whatsapp_number(
                user_id, phone_number_id, display_phone, access_token_ref, organization_id
            )
        )

    async def list_whatsapp_numbers(self, organization_id: UUID | None = None) -> list[WhatsAppNumber]:
        """The organization's WhatsApp business numbers, oldest first."""
        return await self._run(Calls.list_whatsapp_numbers(organization_id))

    async def whatsapp_number_owner(
        self, phone_number_id: str, organization_id: UUID | None = None
    ) -> UUID | None:
        """The member whose the WhatsApp business number's new leads are, or None."""
        found = await self.whatsapp_number_organization(phone_number_id, organization_id)
        return found.user_id if found else None

    async def whatsapp_number_organization(
        self, phone_number_id: str, organization_id: UUID | None = None
    ) -> OwnerRow | None:
        """The organization the WhatsApp business number belongs to (and its member whose the
        number's new leads are), or None: where an incoming message to it lands."""
        rows = await self._run(Calls.whatsapp_number_owner(phone_number_id, organization_id))
        return rows[0] if rows else None

    async def create_lead(
        self,
        user_id: UUID,
        customer_phone: str,
        customer_name: str | None,
        lead_type: LeadType | str,
        details: str | None = None,
        conversation_status: str = "active",
        lead_status: str = "new",
        organization_id: UUID | None = None,
    ) -> LeadCreated:
        return await self._run(
            Calls.create_lead(
                user_id,
                customer_phone,
                customer_name,
                lead_type,
                details,
                conversation_status,
                lead_status,
                organization_id,
            )
        )

    async def import_leads(
        self, user_id: UUID, leads: Sequence[Mapping[str, Any]], organization_id: UUID | None = None
    ) -> BulkResult:
        return await self._run(Calls.import_leads(user_id, leads, organization_id))

    async def find_lead_by_phone(
        self, user_id: UUID, phone: str, organization_id: UUID | None = None
    ) -> UUID | None:
        """The id of the organization's live lead with this phone number, or None."""
        rows = await self._run(Calls.find_lead_by_phone(user_id, phone, organization_id))
        return rows[0].lead_id if rows else None

    async def record_whatsapp_message(
        self,
        user_id: UUID,
        wa_message_id: str,
        from_phone: str,
        body: str | None,
        customer_name: str | None = None,
        message_type: str = "text",
        sent_at: datetime | None = None,
        payload: Mapping[str, Any] | None = None,
        organization_id: UUID | None = None,
    ) -> MessageRecorded:
        return await self._run(
            Calls.record_whatsapp_message(
                user_id,
                wa_message_id,
                from_phone,
                body,
                customer_name,
                message_type,
                sent_at,
                payload,
                organization_id,
            )
        )

    async def record_whatsapp_outgoing(
        self,
        user_id: UUID,
        to_phone: str,
        body: str,
        wa_message_id: str,
        create_lead: bool = False,
        customer_name: str | None = None,
        organization_id: UUID | None = None,
    ) -> OutgoingRecorded:
        return await self._run(
            Calls.record_whatsapp_outgoing(
                user_id, to_phone, body, wa_message_id, create_lead, customer_name, organization_id
            )
        )

    async def update_message_status(
        self,
        wa_message_id: str,
        status: str,
        at: datetime | None = None,
        error: Mapping[str, Any] | None = None,
        organization_id: UUID | None = None,
    ) -> StatusApplied:
        return await self._run(Calls.update_message_status(wa_message_id, status, at, error, organization_id))

    async def soft_delete_lead(
        self, lead_id: UUID, user_id: UUID | None = None, organization_id: UUID | None = None
    ) -> LeadDeleted:
        return await self._run(Calls.soft_delete_lead(lead_id, user_id, organization_id))

    async def restore_lead(
        self, lead_id: UUID, user_id: UUID | None = None, organization_id: UUID | None = None
    ) -> LeadDeleted:
        return await self._run(Calls.restore_lead(lead_id, user_id, organization_id))

    async def get_lead(
        self, lead_id: UUID, user_id: UUID | None = None, organization_id: UUID | None = None
    ) -> LeadDetail:
        return await self._run(Calls.get_lead(lead_id, user_id, organization_id))

    async def list_leads(
        self,
        user_id: UUID,
        limit: int = 50,
        before: tuple[datetime, UUID] | None = None,
        status: LeadStatus | str | None = None,
        lead_type: LeadType | str | None = None,
        search: str | None = None,
        organization_id: UUID | None = None,
    ) -> list[LeadSummary]:
        return await self._run(
            Calls.list_leads(user_id, limit, before, status, lead_type, search, organization_id)
        )
