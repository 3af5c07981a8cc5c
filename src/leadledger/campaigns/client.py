"""Typed clients of the campaign domain, async (:class:`AsyncCampaignsClient`, the HTTP API) and
sync (:class:`CampaignsClient`: threads, scripts, the CLI).

Written once: the operations in :mod:`.client_calls`, the async client in :mod:`.client_async`,
from which ``tools/async_to_sync.py`` generates the sync one (:mod:`.client_sync`). This module
keeps the names where callers import them.
"""

from leadledger.campaigns.client_async import AsyncCampaignsClient
from leadledger.campaigns.client_calls import BATCH_ATTEMPTS
from leadledger.campaigns.client_sync import CampaignsClient

__all__ = ["BATCH_ATTEMPTS", "AsyncCampaignsClient", "CampaignsClient"]
