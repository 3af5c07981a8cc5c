# WARNING: this file is generated from src/leadledger/campaigns/client_async.py by tools/async_to_sync.py.
# DO NOT CHANGE! Change the original file instead.
"""The campaign domain's client. Method names follow the seed's campaign manager; each method is
one stored-function call through :mod:`leadledger.db.rpc`, built by
:class:`~leadledger.campaigns.client_calls.Calls` (batch and cost calls retry 5 times).

Every method takes ``organization_id`` last: the organization the call is confined to (the HTTP
API passes the caller's); ``None`` acts across organizations, as the service (docs/decisions.md
D47). Another organization's campaign or business is not found (``NotFoundError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from leadledger.campaigns.client_calls import Calls
from leadledger.campaigns.models import (
    BatchResult,
    BusinessForEnrichment,
    CampaignCreate,
    CampaignCreated,
    CampaignOverview,
    CampaignStatistics,
    CampaignStatus,
    CampaignSummary,
    ClaimResult,
    CostService,
    CostTracked,
    CoverageUpdated,
    EnrichmentBatchResult,
    EnrichmentSaved,
    EnrichmentType,
    TransitionResult,
    VerificationResult,
)
from leadledger.db.calls import SyncCaller


class CampaignsClient(SyncCaller):
    """The campaign domain over the given :class:`~leadledger.db.Database`."""

    def create_campaign(
        self, campaign: CampaignCreate, organization_id: UUID | None = None
    ) -> CampaignCreated:
        return self._run(Calls.create_campaign(campaign, organization_id))

    def save_businesses_batch(
        self,
        campaign_id: UUID,
        zip_code: str | None,
        businesses: Sequence[Mapping[str, Any]],
        organization_id: UUID | None = None,
    ) -> BatchResult:
        return self._run(Calls.save_businesses_batch(campaign_id, zip_code, businesses, organization_id))

    def update_statistics(self, campaign_id: UUID, organization_id: UUID | None = None) -> CampaignStatistics:
        return self._run(Calls.update_statistics(campaign_id, organization_id))

    def track_campaign_cost(
        self,
        campaign_id: UUID,
        service: CostService | str,
        items_processed: int,
        cost_usd: Decimal | float | str,
        metadata: Mapping[str, Any] | None = None,
        organization_id: UUID | None = None,
    ) -> CostTracked:
        return self._run(
            Calls.track_campaign_cost(
                campaign_id, service, items_processed, cost_usd, metadata, organization_id
            )
        )

    def update_coverage_status(
        self,
        campaign_id: UUID,
        zip_code: str,
        businesses_found: int,
        emails_found: int,
        actual_cost: Decimal | float | str,
        status: str = "scraped",
        error: str | None = None,
        organization_id: UUID | None = None,
    ) -> CoverageUpdated:
        return self._run(
            Calls.update_coverage_status(
                campaign_id,
                zip_code,
                businesses_found,
                emails_found,
                actual_cost,
                status,
                error,
                organization_id,
            )
        )

    def save_enrichment_batch(
        self,
        enrichment_type: EnrichmentType | str,
        enrichments: Sequence[Mapping[str, Any] | BaseModel],
        organization_id: UUID | None = None,
    ) -> EnrichmentBatchResult:
        return self._run(Calls.save_enrichment_batch(enrichment_type, enrichments, organization_id))

    def save_facebook_enrichment(
        self,
        business_id: UUID,
        campaign_id: UUID,
        enrichment: Mapping[str, Any],
        organization_id: UUID | None = None,
    ) -> EnrichmentSaved:
        return self._run(
            Calls.save_enrichment(
                EnrichmentType.FACEBOOK, business_id, campaign_id, enrichment, organization_id
            )
        )

    def save_linkedin_enrichment(
        self,
        business_id: UUID,
        campaign_id: UUID,
        enrichment: Mapping[str, Any],
        organization_id: UUID | None = None,
    ) -> EnrichmentSaved:
        return self._run(
            Calls.save_enrichment(
                EnrichmentType.LINKEDIN, business_id, campaign_id, enrichment, organization_id
            )
        )

    def update_email_verification(
        self,
        business_id: UUID,
        email: str,
        verification_data: Mapping[str, Any],
        organization_id: UUID | None = None,
    ) -> VerificationResult:
        return self._run(
            Calls.update_email_verification(business_id, email, verification_data, organization_id)
        )

    def get_businesses_for_enrichment(
        self,
        campaign_id: UUID,
        enrichment_type: EnrichmentType | str,
        limit: int = 100,
        offset: int = 0,
        organization_id: UUID | None = None,
    ) -> list[BusinessForEnrichment]:
        return self._run(
            Calls.get_businesses_for_enrichment(campaign_id, enrichment_type, limit, offset, organization_id)
        )

    def claim_for_enrichment(
        self,
        campaign_id: UUID,
        enrichment_type: EnrichmentType | str,
        worker: str,
        limit: int = 100,
        lease: timedelta = timedelta(minutes=5),
        organization_id: UUID | None = None,
    ) -> ClaimResult:
        return self._run(
            Calls.claim_for_enrichment(campaign_id, enrichment_type, worker, limit, lease, organization_id)
        )

    def transition_status(
        self,
        campaign_id: UUID,
        new_status: CampaignStatus | str,
        reason: str | None = None,
        organization_id: UUID | None = None,
    ) -> TransitionResult:
        return self._run(Calls.transition_status(campaign_id, new_status, reason, organization_id))

    def get_campaign(self, campaign_id: UUID, organization_id: UUID | None = None) -> CampaignOverview:
        return self._run(Calls.get_campaign(campaign_id, organization_id))

    def list_campaigns(
        self,
        limit: int = 50,
        before: tuple[datetime, UUID] | None = None,
        status: CampaignStatus | str | None = None,
        organization_id: UUID | None = None,
    ) -> list[CampaignSummary]:
        return self._run(Calls.list_campaigns(limit, before, status, organization_id))
