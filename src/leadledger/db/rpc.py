"""The one call path into the stored functions, sync (:class:`Database`) and async
(:class:`AsyncDatabase`).

``call("fn", p_a=1, p_b={...})`` sends ``SELECT "fn"("p_a" := 1, "p_b" := '{...}'::jsonb)`` as one
autocommit statement, unwraps the JSONB envelope and raises the typed error of
:mod:`leadledger.db.errors` when ``success`` is false. ``fetch`` does the same for table-returning
read functions. Both retry retryable errors (an envelope with ``retry_recommended``, SQLSTATEs
40001, 40P01, 55P03, 53300, 57P01 and class 08) with exponential backoff and full jitter
(tenacity's ``wait_random_exponential``).

The code is written once: :class:`AsyncDatabase` in :mod:`leadledger.db.database_async`, from
which ``tools/async_to_sync.py`` generates :class:`Database` (:mod:`leadledger.db.database_sync`);
what both share (statement building, unwrapping, the retry policy) is in
:mod:`leadledger.db.database_base`. This module keeps the names where callers import them.
"""

from leadledger.db.database_async import AsyncDatabase
from leadledger.db.database_base import Envelope, Row, adapt, build_call, unwrap
from leadledger.db.database_sync import Database
from leadledger.db.errors import DatabaseError, LeadledgerError

__all__ = [
    "AsyncDatabase",
    "Database",
    "DatabaseError",
    "Envelope",
    "LeadledgerError",
    "Row",
    "adapt",
    "build_call",
    "unwrap",
]
