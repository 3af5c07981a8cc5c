"""HTTP API of the campaign domain: ``/api/campaigns``.

Validation errors are 422 naming the field (pydantic before the call, the function's 22023
after), an unknown campaign or business 404, a conflict (invalid transition, duplicate) 409,
a retryable conflict 503 with Retry-After, all in one body shape: see leadledger.api.errors.
Lists page with ``?limit=&cursor=`` and answer ``{items, next_cursor}`` (leadledger.api.pagination).

Every route needs an authenticated caller (an API key or a bearer JWT, leadledger.api.auth):
401 before anything is read or written. Every call is confined to the caller's organization
(``caller.organization_id`` as p_organization_id, D48): another organization's campaign or
business is 404 exactly like one that does not exist, lists and cursors show only the caller's
organization, and nothing of another organization is written. A new campaign's created_by is the
caller (D19), and its organization the caller's; a body naming either is refused (422).
Routes take the client from leadledger.api.deps and call one method of it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, status

from leadledger.api.auth import CurrentCaller, current_caller
from leadledger.api.deps import CampaignsClientDep
from leadledger.api.pagination import PageParams, PageQuery, keyset_page, offset_page, page_query
from leadledger.campaigns.models import (
    BatchResult,
    BusinessBatch,
    CampaignCreate,
    CampaignCreateBody,
    CampaignCreated,
    CampaignOverview,
    CampaignPage,
    CampaignStatistics,
    CampaignStatus,
    ClaimRequest,
    ClaimResult,
    CostEntry,
    CostTracked,
    CoverageUpdate,
    CoverageUpdated,
    EmailVerification,
    EnrichmentBatchResult,
    EnrichmentType,
    PendingEnrichmentPage,
    StatusTransition,
    TransitionResult,
    VerificationResult,
    ZipCode,
)

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"], dependencies=[Depends(current_caller)])

#: The largest p_limit list_campaigns and get_businesses_for_enrichment take.
LIST_CAMPAIGNS_MAX_FETCH = 500
PENDING_MAX_FETCH = 1000

#: Businesses pending enrichment: up to 1000 a page, 100 by default, as the function takes them.
PendingPageParams = Annotated[PageQuery, Depends(page_query(default=100, maximum=PENDING_MAX_FETCH))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CampaignCreated)
async def create_campaign(
    body: CampaignCreateBody, campaigns: CampaignsClientDep, caller: CurrentCaller
) -> CampaignCreated:
    """Create a campaign with one coverage row per ZIP code (all or nothing), in the caller's
    organization. created_by is the authenticated caller; a created_by or organization_id in the
    body is refused (422)."""
    campaign = CampaignCreate(**body.model_dump(), created_by=caller.user_id)
    return await campaigns.create_campaign(campaign, caller.organization_id)


@router.get("", response_model=CampaignPage)
async def list_campaigns(
    campaigns: CampaignsClientDep,
    caller: CurrentCaller,
    page: PageParams,
    campaign_status: Annotated[CampaignStatus | None, Query(alias="status")] = None,
) -> CampaignPage:
    """The caller's organization's campaigns, newest first; follow next_cursor for the next page."""
    return await keyset_page(
        page,
        lambda limit, before: campaigns.list_campaigns(
            limit, before, campaign_status, caller.organization_id
        ),
        key=lambda campaign: (campaign.created_at, campaign.id),
        max_fetch=LIST_CAMPAIGNS_MAX_FETCH,
    )


@router.get("/{campaign_id}", response_model=CampaignOverview)
async def get_campaign(
    campaign_id: UUID, campaigns: CampaignsClientDep, caller: CurrentCaller
) -> CampaignOverview:
    """A campaign with its statistics, coverage progress, costs by service and status history."""
    return await campaigns.get_campaign(campaign_id, caller.organization_id)


@router.post("/{campaign_id}/transitions", response_model=TransitionResult)
async def transition_campaign(
    campaign_id: UUID, body: StatusTransition, campaigns: CampaignsClientDep, caller: CurrentCaller
) -> TransitionResult:
    """Move the campaign to another status (409 when the state machine does not allow it)."""
    return await campaigns.transition_status(campaign_id, body.status, body.reason, caller.organization_id)


@router.post("/{campaign_id}/businesses", response_model=BatchResult)
async def post_businesses(
    campaign_id: UUID, body: BusinessBatch, campaigns: CampaignsClientDep, caller: CurrentCaller
) -> BatchResult:
    """Upsert a batch of Google Maps results (seed-shaped or Apify dataset items)."""
    return await campaigns.save_businesses_batch(
        campaign_id, body.zip_code, body.businesses, caller.organization_id
    )


@router.post("/{campaign_id}/costs", status_code=status.HTTP_201_CREATED, response_model=CostTracked)
async def post_cost(
    campaign_id: UUID, body: CostEntry, campaigns: CampaignsClientDep, caller: CurrentCaller
) -> CostTracked:
    """Record an API cost and add it to the campaign's total."""
    return await campaigns.track_campaign_cost(
        campaign_id, body.service, body.items_processed, body.cost_usd, body.metadata, caller.organization_id
    )


@router.post("/{campaign_id}/statistics", response_model=CampaignStatistics)
async def refresh_statistics(
    campaign_id: UUID, campaigns: CampaignsClientDep, caller: CurrentCaller
) -> CampaignStatistics:
    """Recompute the campaign's totals from its rows."""
    return await campaigns.update_statistics(campaign_id, caller.organization_id)


@router.put("/{campaign_id}/coverage/{zip_code}", response_model=CoverageUpdated)
async def put_coverage(
    campaign_id: UUID,
    zip_code: ZipCode,
    body: CoverageUpdate,
    campaigns: CampaignsClientDep,
    caller: CurrentCaller,
) -> CoverageUpdated:
    """Mark one ZIP code scraped, with its results, or failed with the reason."""
    return await campaigns.update_coverage_status(
        campaign_id,
        zip_code,
        body.businesses_found,
        body.emails_found,
        body.actual_cost,
        body.status,
        body.error,
        caller.organization_id,
    )


@router.get("/{campaign_id}/enrichment/{enrichment_type}", response_model=PendingEnrichmentPage)
async def pending_for_enrichment(
    campaign_id: UUID,
    enrichment_type: EnrichmentType,
    campaigns: CampaignsClientDep,
    caller: CurrentCaller,
    page: PendingPageParams,
) -> PendingEnrichmentPage:
    """Businesses still pending this enrichment, oldest first (a read; workers should claim
    instead). The function pages by offset, which next_cursor carries: a business enriched
    meanwhile shifts the rows after it."""
    return await offset_page(
        page,
        lambda limit, offset: campaigns.get_businesses_for_enrichment(
            campaign_id, enrichment_type, limit, offset, caller.organization_id
        ),
        max_fetch=PENDING_MAX_FETCH,
    )


@router.post("/{campaign_id}/claims", response_model=ClaimResult)
async def claim_for_enrichment(
    campaign_id: UUID, body: ClaimRequest, campaigns: CampaignsClientDep, caller: CurrentCaller
) -> ClaimResult:
    """Lease up to `limit` pending businesses to one worker for `lease_seconds`."""
    return await campaigns.claim_for_enrichment(
        campaign_id,
        body.enrichment_type,
        body.worker,
        body.limit,
        timedelta(seconds=body.lease_seconds),
        caller.organization_id,
    )


@router.post("/enrichments/{enrichment_type}", response_model=EnrichmentBatchResult)
async def post_enrichments(
    enrichment_type: EnrichmentType,
    campaigns: CampaignsClientDep,
    caller: CurrentCaller,
    enrichments: Annotated[list[dict[str, Any]], Body(max_length=10000)],
) -> EnrichmentBatchResult:
    """Apply a batch of Facebook or LinkedIn enrichments; invalid items are reported, not fatal
    (a business of another organization is reported as not found, and not touched)."""
    return await campaigns.save_enrichment_batch(enrichment_type, enrichments, caller.organization_id)


@router.post("/businesses/{business_id}/verifications", response_model=VerificationResult)
async def post_verification(
    business_id: UUID, body: EmailVerification, campaigns: CampaignsClientDep, caller: CurrentCaller
) -> VerificationResult:
    """Record an email verification (seed shape or a Bouncer response as-is)."""
    return await campaigns.update_email_verification(
        business_id, body.email, body.verification, caller.organization_id
    )
