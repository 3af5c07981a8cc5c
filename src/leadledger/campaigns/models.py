"""Pydantic models of the campaign domain: what goes into the stored functions and what comes
back, and the HTTP API's pages. Enums mirror the database's CHECK constraints
(tests/campaigns/test_models.py checks it)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from leadledger.api.pagination import Page

ZipCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]
#: The SQL rule of leadledger.json_type_matches(..., 'email'), after trimming.
EmailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=6)]


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class EnrichmentType(StrEnum):
    FACEBOOK = "facebook"
    LINKEDIN = "linkedin"


class CostService(StrEnum):
    GOOGLE_MAPS = "google_maps"
    FACEBOOK = "facebook"
    LINKEDIN = "linkedin"
    BOUNCER = "bouncer"


class EmailSource(StrEnum):
    GOOGLE_MAPS = "google_maps"
    FACEBOOK = "facebook"
    LINKEDIN = "linkedin"


class VerificationStatus(StrEnum):
    DELIVERABLE = "deliverable"
    RISKY = "risky"
    UNDELIVERABLE = "undeliverable"
    UNKNOWN = "unknown"


class CoverageStatus(StrEnum):
    PENDING = "pending"
    SCRAPED = "scraped"
    FAILED = "failed"


class EnrichmentStatus(StrEnum):
    PENDING = "pending"
    ENRICHED = "enriched"
    NOT_FOUND = "not_found"
    FAILED = "failed"


class _Result(BaseModel):
    """Envelopes carry more than a model names; extra fields are kept, not refused."""

    model_config = ConfigDict(extra="allow")


# -- input ------------------------------------------------------------------------------------


class ZipCodeTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zip_code: ZipCode
    keywords: list[str] | None = None
    max_results: Annotated[int, Field(gt=0, le=2147483647)] | None = None
    estimated_cost: Money | None = None


class CampaignCreateBody(BaseModel):
    """A new campaign as the HTTP API takes it: who creates it, and in which organization, comes
    from authentication (a body naming created_by or organization_id is refused, D19, D48)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    location: str | None = None
    coverage_profile: str | None = None
    zip_codes: Annotated[list[ZipCodeTarget], Field(min_length=1, max_length=5000)]

    @field_validator("zip_codes")
    @classmethod
    def _zip_codes_unique(cls, value: list[ZipCodeTarget]) -> list[ZipCodeTarget]:
        seen: set[str] = set()
        for target in value:
            if target.zip_code in seen:
                raise ValueError(f"ZIP code {target.zip_code} is listed more than once")
            seen.add(target.zip_code)
        return value

    def campaign_data(self) -> dict[str, Any]:
        return self.model_dump(exclude={"zip_codes"}, exclude_none=True)

    def zip_code_items(self) -> list[dict[str, Any]]:
        return [z.model_dump(exclude_none=True) for z in self.zip_codes]


class CampaignCreate(CampaignCreateBody):
    """A new campaign with its ZIP codes: what create_campaign_with_coverage takes. The creator
    is a user id or, as the seed document passes it, an email address. ``organization_id`` is
    000 §1.1's field: the organization the service puts the campaign in (an end user's, or the
    one the call is confined to, may only be named again)."""

    organization_id: UUID | None = None
    created_by: UUID | EmailAddress | None = None


class BusinessBatch(BaseModel):
    """A batch of Google Maps results: seed-shaped or Apify items, passed through as they are."""

    zip_code: ZipCode | None = None
    businesses: Annotated[list[dict[str, Any]], Field(max_length=50000)]


class CostEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: CostService
    items_processed: Annotated[int, Field(ge=0)]
    cost_usd: Money
    metadata: dict[str, Any] | None = None


class CoverageUpdate(BaseModel):
    """A ZIP's result: scraped with its counts and cost, or failed with the reason (`error`)."""

    model_config = ConfigDict(extra="forbid")

    businesses_found: Annotated[int, Field(ge=0)]
    emails_found: Annotated[int, Field(ge=0)]
    actual_cost: Money
    status: Literal["scraped", "failed"] = "scraped"
    error: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] | None = None

    @model_validator(mode="after")
    def _error_with_failed_only(self) -> Self:
        if self.status == "failed" and self.error is None:
            raise ValueError("error is required when status is failed (say why)")
        if self.status == "scraped" and self.error is not None:
            raise ValueError("error is only for status failed")
        return self


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enrichment_type: EnrichmentType
    worker: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    lease_seconds: Annotated[int, Field(ge=1, le=86400)] = 300


class StatusTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CampaignStatus
    reason: str | None = None


class EmailVerification(BaseModel):
    email: EmailAddress
    verification: dict[str, Any]


# -- results ----------------------------------------------------------------------------------


class CampaignCreated(_Result):
    campaign_id: UUID
    organization_id: UUID
    zip_count: int
    estimated_cost: Decimal
    message: str


class BatchResult(_Result):
    campaign_id: UUID
    zip_code: str | None
    inserted: int
    updated: int
    unchanged: int
    skipped: int
    total: int


class CampaignStatistics(_Result):
    campaign_id: UUID
    total_businesses: int
    total_emails: int
    total_facebook_pages: int
    total_linkedin_profiles: int
    total_verified_emails: int
    zips_total: int
    zips_scraped: int
    zips_failed: int
    actual_cost: Decimal
    estimated_cost: Decimal
    updated_at: datetime


class CostTracked(_Result):
    cost_id: UUID
    campaign_id: UUID
    service: CostService
    cost_usd: Decimal
    items_processed: int
    new_total: Decimal


class CoverageUpdated(_Result):
    campaign_id: UUID
    zip_code: str
    status: CoverageStatus
    businesses_found: int
    emails_found: int
    actual_cost: Decimal
    scraped_at: datetime | None
    failed_at: datetime | None
    error: str | None


class EnrichmentError(_Result):
    index: int
    business_id: UUID | None
    reason: str


class EnrichmentBatchResult(_Result):
    enrichment_type: EnrichmentType
    updated: int
    failed: int
    errors: list[EnrichmentError]


class EnrichmentSaved(_Result):
    business_id: UUID
    campaign_id: UUID
    enrichment_type: EnrichmentType
    email: str | None
    email_source: EmailSource | None


class VerificationResult(_Result):
    business_id: UUID
    email: str
    status: VerificationStatus
    is_safe: bool
    sources: list[EmailSource]
    verification_id: UUID


class BusinessForEnrichment(_Result):
    """A business to enrich: get_businesses_for_enrichment's rows (the document's columns, 000
    §1.8, then more) and the businesses of a claim (which carry no enrichment_* fields)."""

    business_id: UUID
    campaign_id: UUID
    place_id: str
    name: str | None
    address: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    phone: str | None
    website: str | None
    email: str | None
    facebook_url: str | None
    linkedin_url: str | None
    enrichment_status: EnrichmentStatus | None = None
    enrichment_attempts: int | None = None
    needs_enrichment: bool | None = None
    email_source: EmailSource | None
    category: str | None


class ClaimResult(_Result):
    campaign_id: UUID
    enrichment_type: EnrichmentType
    worker: str
    claimed: int
    lease_expires_at: datetime
    businesses: list[BusinessForEnrichment]


class TransitionResult(_Result):
    campaign_id: UUID
    from_status: CampaignStatus
    to_status: CampaignStatus
    reason: str | None
    changed_at: datetime


class Campaign(_Result):
    id: UUID
    name: str
    description: str | None
    keywords: list[str]
    location: str | None
    coverage_profile: str | None
    organization_id: UUID
    created_by: UUID | None
    created_by_email: str | None = None
    status: CampaignStatus
    status_reason: str | None
    target_zip_count: int
    estimated_cost: Decimal
    actual_cost: Decimal
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class StoredStatistics(_Result):
    total_businesses: int
    total_emails: int
    total_facebook_pages: int
    total_linkedin_profiles: int
    total_verified_emails: int
    updated_at: datetime | None


class CoverageProgress(_Result):
    zips_total: int
    zips_scraped: int
    zips_failed: int
    zips_pending: int
    percent_complete: Decimal
    businesses_found: int
    emails_found: int


class ServiceCost(_Result):
    calls: int
    items_processed: int
    cost_usd: Decimal


class StatusChange(_Result):
    from_status: CampaignStatus
    to_status: CampaignStatus
    reason: str | None
    changed_at: datetime


class CampaignOverview(_Result):
    campaign: Campaign
    statistics: StoredStatistics
    coverage: CoverageProgress
    costs_by_service: dict[CostService, ServiceCost]
    status_history: list[StatusChange]


class CampaignSummary(_Result):
    id: UUID
    name: str
    status: CampaignStatus
    location: str | None
    target_zip_count: int
    zips_scraped: int
    total_businesses: int
    total_emails: int
    estimated_cost: Decimal
    actual_cost: Decimal
    created_at: datetime


# -- HTTP pages (leadledger.api.pagination) -----------------------------------------------------

#: GET /api/campaigns: ``{items, next_cursor}``, newest first.
CampaignPage = Page[CampaignSummary]
#: GET /api/campaigns/{id}/enrichment/{type}: ``{items, next_cursor}`` in the function's order.
PendingEnrichmentPage = Page[BusinessForEnrichment]
