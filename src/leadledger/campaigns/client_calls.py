"""The campaign domain's operations, written once for both clients: :class:`Calls` turns a
method's arguments into a :class:`~leadledger.db.calls.Call`; the clients
(:mod:`leadledger.campaigns.client`) only execute it.

Every operation takes ``organization_id`` last (``p_organization_id``): the organization the call
is confined to (docs/decisions.md D47). The service passes the organization it acts in (the HTTP
API: the caller's); ``None`` acts across organizations (workers, the CLI without ``--org``), and
a new campaign then goes to its creator's organization or the default one. Another
organization's campaign or business is not found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, TypeAdapter

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
from leadledger.db.calls import BATCH_STATEMENT_TIMEOUT, Call

#: Attempts for batch and cost calls (the issue: "Batch and cost calls retry 5 times").
BATCH_ATTEMPTS = 5


def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


_CREATED = _adapter(CampaignCreated)
_BATCH = _adapter(BatchResult)
_STATS = _adapter(CampaignStatistics)
_COST = _adapter(CostTracked)
_COVERAGE = _adapter(CoverageUpdated)
_ENRICH_BATCH = _adapter(EnrichmentBatchResult)
_ENRICH_ONE = _adapter(EnrichmentSaved)
_VERIFY = _adapter(VerificationResult)
_PENDING = _adapter(list[BusinessForEnrichment])
_CLAIM = _adapter(ClaimResult)
_TRANSITION = _adapter(TransitionResult)
_OVERVIEW = _adapter(CampaignOverview)
_SUMMARIES = _adapter(list[CampaignSummary])


def _dump(value: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    return dict(value)


class Calls:
    """One method per operation: arguments in, :class:`Call` out. No I/O."""

    @staticmethod
    def create_campaign(
        campaign: CampaignCreate, organization_id: UUID | None = None
    ) -> Call[CampaignCreated]:
        return Call(
            "create_campaign_with_coverage",
            {
                "p_campaign_data": campaign.campaign_data(),
                "p_zip_codes": campaign.zip_code_items(),
                "p_organization_id": organization_id,
            },
            _CREATED,
        )

    @staticmethod
    def save_businesses_batch(
        campaign_id: UUID,
        zip_code: str | None,
        businesses: Sequence[Mapping[str, Any]],
        organization_id: UUID | None = None,
    ) -> Call[BatchResult]:
        return Call(
            "insert_businesses_batch",
            {
                "p_campaign_id": campaign_id,
                "p_zip_code": zip_code,
                "p_businesses": list(businesses),
                "p_organization_id": organization_id,
            },
            _BATCH,
            attempts=BATCH_ATTEMPTS,
            statement_timeout=BATCH_STATEMENT_TIMEOUT,
        )

    @staticmethod
    def update_statistics(campaign_id: UUID, organization_id: UUID | None = None) -> Call[CampaignStatistics]:
        return Call(
            "update_campaign_statistics",
            {"p_campaign_id": campaign_id, "p_organization_id": organization_id},
            _STATS,
        )

    @staticmethod
    def track_campaign_cost(
        campaign_id: UUID,
        service: CostService | str,
        items_processed: int,
        cost_usd: Decimal | float | str,
        metadata: Mapping[str, Any] | None = None,
        organization_id: UUID | None = None,
    ) -> Call[CostTracked]:
        return Call(
            "track_campaign_cost",
            {
                "p_campaign_id": campaign_id,
                "p_service": str(service),
                "p_items_processed": items_processed,
                "p_cost_usd": Decimal(str(cost_usd)),
                "p_metadata": dict(metadata) if metadata is not None else None,
                "p_organization_id": organization_id,
            },
            _COST,
            attempts=BATCH_ATTEMPTS,
        )

    @staticmethod
    def update_coverage_status(
        campaign_id: UUID,
        zip_code: str,
        businesses_found: int,
        emails_found: int,
        actual_cost: Decimal | float | str,
        status: str = "scraped",
        error: str | None = None,
        organization_id: UUID | None = None,
    ) -> Call[CoverageUpdated]:
        return Call(
            "update_coverage_status",
            {
                "p_campaign_id": campaign_id,
                "p_zip_code": zip_code,
                "p_businesses_found": businesses_found,
                "p_emails_found": emails_found,
                "p_actual_cost": Decimal(str(actual_cost)),
                "p_status": status,
                "p_error": error,
                "p_organization_id": organization_id,
            },
            _COVERAGE,
        )

    @staticmethod
    def save_enrichment_batch(
        enrichment_type: EnrichmentType | str,
        enrichments: Sequence[Mapping[str, Any] | BaseModel],
        organization_id: UUID | None = None,
    ) -> Call[EnrichmentBatchResult]:
        return Call(
            "update_enrichment_batch",
            {
                "p_enrichment_type": str(enrichment_type),
                "p_enrichments": [_dump(e) for e in enrichments],
                "p_organization_id": organization_id,
            },
            _ENRICH_BATCH,
            attempts=BATCH_ATTEMPTS,
            statement_timeout=BATCH_STATEMENT_TIMEOUT,
        )

    @staticmethod
    def save_enrichment(
        enrichment_type: EnrichmentType | str,
        business_id: UUID,
        campaign_id: UUID,
        enrichment: Mapping[str, Any],
        organization_id: UUID | None = None,
    ) -> Call[EnrichmentSaved]:
        function = f"save_{EnrichmentType(enrichment_type).value}_enrichment"
        return Call(
            function,
            {
                "p_business_id": business_id,
                "p_campaign_id": campaign_id,
                "p_enrichment": dict(enrichment),
                "p_organization_id": organization_id,
            },
            _ENRICH_ONE,
        )

    @staticmethod
    def update_email_verification(
        business_id: UUID,
        email: str,
        verification_data: Mapping[str, Any],
        organization_id: UUID | None = None,
    ) -> Call[VerificationResult]:
        return Call(
            "update_email_verification",
            {
                "p_business_id": business_id,
                "p_email": email,
                "p_verification_data": dict(verification_data),
                "p_organization_id": organization_id,
            },
            _VERIFY,
        )

    @staticmethod
    def get_businesses_for_enrichment(
        campaign_id: UUID,
        enrichment_type: EnrichmentType | str,
        limit: int = 100,
        offset: int = 0,
        organization_id: UUID | None = None,
    ) -> Call[list[BusinessForEnrichment]]:
        return Call(
            "get_businesses_for_enrichment",
            {
                "p_campaign_id": campaign_id,
                "p_enrichment_type": str(enrichment_type),
                "p_limit": limit,
                "p_offset": offset,
                "p_organization_id": organization_id,
            },
            _PENDING,
            rows=True,
        )

    @staticmethod
    def claim_for_enrichment(
        campaign_id: UUID,
        enrichment_type: EnrichmentType | str,
        worker: str,
        limit: int = 100,
        lease: timedelta = timedelta(minutes=5),
        organization_id: UUID | None = None,
    ) -> Call[ClaimResult]:
        return Call(
            "claim_businesses_for_enrichment",
            {
                "p_campaign_id": campaign_id,
                "p_enrichment_type": str(enrichment_type),
                "p_worker": worker,
                "p_limit": limit,
                "p_lease": lease,
                "p_organization_id": organization_id,
            },
            _CLAIM,
        )

    @staticmethod
    def transition_status(
        campaign_id: UUID,
        new_status: CampaignStatus | str,
        reason: str | None = None,
        organization_id: UUID | None = None,
    ) -> Call[TransitionResult]:
        return Call(
            "transition_campaign_status",
            {
                "p_campaign_id": campaign_id,
                "p_new_status": str(new_status),
                "p_reason": reason,
                "p_organization_id": organization_id,
            },
            _TRANSITION,
        )

    @staticmethod
    def get_campaign(campaign_id: UUID, organization_id: UUID | None = None) -> Call[CampaignOverview]:
        return Call(
            "get_campaign_overview",
            {"p_campaign_id": campaign_id, "p_organization_id": organization_id},
            _OVERVIEW,
        )

    @staticmethod
    def list_campaigns(
        limit: int = 50,
        before: tuple[datetime, UUID] | None = None,
        status: CampaignStatus | str | None = None,
        organization_id: UUID | None = None,
    ) -> Call[list[CampaignSummary]]:
        return Call(
            "list_campaigns",
            {
                "p_limit": limit,
                "p_before_created_at": before[0] if before else None,
                "p_before_id": before[1] if before else None,
                "p_status": str(status) if status is not None else None,
                "p_organization_id": organization_id,
            },
            _SUMMARIES,
            rows=True,
        )
