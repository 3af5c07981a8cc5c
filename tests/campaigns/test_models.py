"""The Python enums of the campaign domain match the database's CHECK constraints."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import psycopg
import pytest

from leadledger.campaigns.models import (
    CampaignCreate,
    CampaignStatus,
    CostService,
    CoverageStatus,
    EmailSource,
    EnrichmentStatus,
    EnrichmentType,
    VerificationStatus,
)


def check_values(conn: psycopg.Connection[Any], table: str, column: str) -> set[str]:
    rows = conn.execute(
        """
        SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
         WHERE c.conrelid = %s::regclass AND c.contype = 'c'
           AND pg_get_constraintdef(c.oid) ~ ('\\m' || %s || '\\M')
        """,
        [f"public.{table}", column],
    ).fetchall()
    values: set[str] = set()
    for (definition,) in rows:
        if "ARRAY[" in definition and column in definition.split("ARRAY[")[0]:
            values |= set(re.findall(r"'([a-z_]+)'::text", definition))
    return values


@pytest.mark.parametrize(
    ("enum", "table", "column"),
    [
        (CampaignStatus, "gmaps_campaigns", "status"),
        (CampaignStatus, "gmaps_campaign_status_history", "to_status"),
        (CostService, "gmaps_api_costs", "service"),
        (CoverageStatus, "gmaps_campaign_coverage", "status"),
        (EmailSource, "gmaps_businesses", "email_source"),
        (VerificationStatus, "gmaps_businesses", "email_verification_status"),
        (VerificationStatus, "gmaps_email_verifications", "status"),
        (EnrichmentStatus, "gmaps_businesses", "facebook_enrichment_status"),
        (EnrichmentStatus, "gmaps_businesses", "linkedin_enrichment_status"),
        (EnrichmentType, "gmaps_enrichment_leases", "enrichment_type"),
    ],
)
def test_enum_matches_database(
    conn: psycopg.Connection[Any], enum: type[StrEnum], table: str, column: str
) -> None:
    assert {e.value for e in enum} == check_values(conn, table, column)


def test_campaign_create_validates_before_the_database() -> None:
    with pytest.raises(ValueError, match="listed more than once"):
        CampaignCreate(name="x", zip_codes=[{"zip_code": "10001"}, {"zip_code": "10001"}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="zip_code"):
        CampaignCreate(name="x", zip_codes=[{"zip_code": "1001"}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="name"):
        CampaignCreate(name="  ", zip_codes=[{"zip_code": "10001"}])  # type: ignore[list-item]
