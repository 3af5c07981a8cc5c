"""The campaign domain: Google Maps campaigns by ZIP code, businesses, enrichment, email
verification, API costs, statistics and status. SQL in ``migrations/``, the typed clients in
:mod:`.client`, models in :mod:`.models`, the HTTP router in :mod:`.router`, the CLI in :mod:`.cli`."""

from leadledger.campaigns.client import AsyncCampaignsClient, CampaignsClient

__all__ = ["AsyncCampaignsClient", "CampaignsClient"]
