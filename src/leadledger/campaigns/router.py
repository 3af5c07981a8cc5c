"""HTTP API of the campaign domain: ``/api/campaigns``.

Validation errors are 422 naming the field (pydantic before the call, the function's 22023
after), an unknown campaign or business 404, a conflict (invalid transition, duplicate) 409,
a retryable conflict 503 with Retry-After: see leadledger.api.errors.

Every route needs an authenticated caller (an API key or a bearer JWT, leadledger.api.auth):
401 before anything is read or written. A new campaign's created_by is the caller (D19).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, status

from leadledger.api.auth import CurrentUser, current_user
from leadledger.api.deps import DatabaseDep
from leadledger.campaigns.client import AsyncCampaignsClient
from leadledger.campaigns.models import (
    BatchResult,
    BusinessBatch,
    BusinessForEnrichment,
    CampaignCreate,
    CampaignCreateBody,
    CampaignCreated,
    CampaignOverview,
    CampaignStatistics,
    CampaignStatus,
    CampaignSummary,
    ClaimRequest,
    ClaimResult,
    CostEntry,
    CostTracked,
    CoverageUpdate,
    CoverageUpdated,
    EmailVerification,
    EnrichmentBatchResult,
    EnrichmentType,
    StatusTransition,
    TransitionResult,
    VerificationResult,
    ZipCode,
)

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"], dependencies=[Depends(current_user)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CampaignCreated)
async def create_campaign(body: CampaignCreateBody, db: DatabaseDep, user: CurrentUser) -> CampaignCreated:
    """Create a campaign with one coverage row per ZIP code (all or nothing). created_by is the
    authenticated caller; a created_by in the body is refused (422)."""
    campaign = CampaignCreate(**body.model_dump(), created_by=user)
    return await AsyncCampaignsClient(db).create_campaign(campaign)


@router.get("", response_model=list[CampaignSummary])
async def list_campaigns(
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_created_at: datetime | None = None,
    before_id: UUID | None = None,
    campaign_status: Annotated[CampaignStatus | None, Query(alias="status")] = None,
) -> list[CampaignSummary]:
    """Campaigns, newest first. Next page: pass the last row's created_at and id as
    before_created_at and before_id (keyset pagination)."""
    before = (before_created_at, before_id) if before_created_at and before_id else None
    return await AsyncCampaignsClient(db).list_campaigns(limit, before, campaign_status)


@router.get("/{campaign_id}", response_model=CampaignOverview)
async def get_campaign(campaign_id: UUID, db: DatabaseDep) -> CampaignOverview:
    """A campaign with its statistics, coverage progress, costs by service and status history."""
    return await AsyncCampaignsClient(db).get_campaign(campaign_id)


@router.post("/{campaign_id}/transitions", response_model=TransitionResult)
async def transition_campaign(campaign_id: UUID, body: StatusTransition, db: DatabaseDep) -> TransitionResult:
    """Move the campaign to another status (409 when the state machine does not allow it)."""
    return await AsyncCampaignsClient(db).transition_status(campaign_id, body.status, body.reason)


@router.post("/{campaign_id}/businesses", response_model=BatchResult)
async def post_businesses(campaign_id: UUID, body: BusinessBatch, db: DatabaseDep) -> BatchResult:
    """Upsert a batch of Google Maps results (seed-shaped or Apify dataset items)."""
    return await AsyncCampaignsClient(db).save_businesses_batch(campaign_id, body.zip_code, body.businesses)


@router.post("/{campaign_id}/costs", status_code=status.HTTP_201_CREATED, response_model=CostTracked)
async def post_cost(campaign_id: UUID, body: CostEntry, db: DatabaseDep) -> CostTracked:
    """Record an API cost and add it to the campaign's total."""
    return await AsyncCampaignsClient(db).track_campaign_cost(
        campaign_id, body.service, body.items_processed, body.cost_usd, body.metadata
    )


@router.post("/{campaign_id}/statistics", response_model=CampaignStatistics)
async def refresh_statistics(campaign_id: UUID, db: DatabaseDep) -> CampaignStatistics:
    """Recompute the campaign's totals from its rows."""
    return await AsyncCampaignsClient(db).update_statistics(campaign_id)


@router.put("/{campaign_id}/coverage/{zip_code}", response_model=CoverageUpdated)
async def put_coverage(
    campaign_id: UUID, zip_code: ZipCode, body: CoverageUpdate, db: DatabaseDep
) -> CoverageUpdated:
    """Mark one ZIP code scraped, with its results, or failed with the reason."""
    return await AsyncCampaignsClient(db).update_coverage_status(
        campaign_id,
        zip_code,
        body.businesses_found,
        body.emails_found,
        body.actual_cost,
        body.status,
        body.error,
    )


@router.get("/{campaign_id}/enrichment/{enrichment_type}", response_model=list[BusinessForEnrichment])
async def pending_for_enrichment(
    campaign_id: UUID,
    enrichment_type: EnrichmentType,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BusinessForEnrichment]:
    """Businesses still pending this enrichment (a read; workers should claim instead)."""
    return await AsyncCampaignsClient(db).get_businesses_for_enrichment(
        campaign_id, enrichment_type, limit, offset
    )


@router.post("/{campaign_id}/claims", response_model=ClaimResult)
async def claim_for_enrichment(campaign_id: UUID, body: ClaimRequest, db: DatabaseDep) -> ClaimResult:
    """Lease up to `limit` pending businesses to one worker for `lease_seconds`."""
    return await AsyncCampaignsClient(db).claim_for_enrichment(
        campaign_id, body.enrichment_type, body.worker, body.limit, timedelta(seconds=body.lease_seconds)
    )


@router.post("/enrichments/{enrichment_type}", response_model=EnrichmentBatchResult)
async def post_enrichments(
    enrichment_type: EnrichmentType,
    db: DatabaseDep,
    enrichments: Annotated[list[dict[str, Any]], Body(max_length=10000)],
) -> EnrichmentBatchResult:
    """Apply a batch of Facebook or LinkedIn enrichments; invalid items are reported, not fatal."""
    return await AsyncCampaignsClient(db).save_enrichment_batch(enrichment_type, enrichments)


@router.post("/businesses/{business_id}/verifications", response_model=VerificationResult)
async def post_verification(
    business_id: UUID, body: EmailVerification, db: DatabaseDep
) -> VerificationResult:
    """Record an email verification (seed shape or a Bouncer response as-is)."""
    return await AsyncCampaignsClient(db).update_email_verification(
        business_id, body.email, body.verification
    )
