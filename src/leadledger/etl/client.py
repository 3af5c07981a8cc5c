"""Typed clients of the ETL foundation, async (:class:`AsyncEtlClient`) and sync
(:class:`EtlClient`): transitions, state counts, timeouts, legacy mapping.

Written once: the operations in :mod:`.client_calls`, the async client in :mod:`.client_async`,
from which ``tools/async_to_sync.py`` generates the sync one (:mod:`.client_sync`). This module
keeps the names where callers import them.
"""

from leadledger.etl.client_async import AsyncEtlClient
from leadledger.etl.client_sync import EtlClient

__all__ = ["AsyncEtlClient", "EtlClient"]
