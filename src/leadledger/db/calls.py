"""Typed calls: what every domain client shares.

A domain describes each operation once as a :class:`Call` (function name, parameters, attempts,
how to parse the result); :class:`AsyncCaller` and :class:`SyncCaller` execute it on an
:class:`~leadledger.db.AsyncDatabase` or a :class:`~leadledger.db.Database`. A domain writes its
async client (``client_async.py``) on :class:`AsyncCaller`; ``tools/async_to_sync.py`` generates
the sync one (``client_sync.py``) on :class:`SyncCaller`.

:class:`Call` lives in :mod:`leadledger.db.database_base`, the callers beside their databases
(:mod:`leadledger.db.database_async`, generated :mod:`leadledger.db.database_sync`); this module
keeps the names where the domains import them.
"""

from leadledger.db.database_async import AsyncCaller
from leadledger.db.database_base import BATCH_STATEMENT_TIMEOUT, Call
from leadledger.db.database_sync import SyncCaller

__all__ = ["BATCH_STATEMENT_TIMEOUT", "AsyncCaller", "Call", "SyncCaller"]
