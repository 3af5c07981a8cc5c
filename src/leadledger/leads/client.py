"""Typed clients of the leads domain, async (:class:`AsyncLeadsClient`, the HTTP API) and sync
(:class:`LeadsClient`: threads, scripts, the CLI).

Written once: the operations in :mod:`.client_calls`, the async client in :mod:`.client_async`,
from which ``tools/async_to_sync.py`` generates the sync one (:mod:`.client_sync`). This module
keeps the names where callers import them.
"""

from leadledger.leads.client_async import AsyncLeadsClient
from leadledger.leads.client_calls import BATCH_ATTEMPTS
from leadledger.leads.client_sync import LeadsClient

__all__ = ["BATCH_ATTEMPTS", "AsyncLeadsClient", "LeadsClient"]
