"""Typed clients of the organizations domain, async (:class:`AsyncOrgsClient`, the HTTP API) and
sync (:class:`OrgsClient`: scripts, the CLI).

Written once: the operations in :mod:`.client_calls`, the async client in :mod:`.client_async`,
from which ``tools/async_to_sync.py`` generates the sync one (:mod:`.client_sync`).
"""

from leadledger.orgs.client_async import AsyncOrgsClient
from leadledger.orgs.client_sync import OrgsClient

__all__ = ["AsyncOrgsClient", "OrgsClient"]
