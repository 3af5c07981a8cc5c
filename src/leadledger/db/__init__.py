"""The database core: settings, the embedded server, pools, migrations, the RPC call path and
the error classes. Domains build on :class:`Database` / :class:`AsyncDatabase`."""

from leadledger.db.errors import (
    BusinessRuleError,
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailableError,
    DuplicateRecordError,
    LeadledgerError,
    MigrationError,
    OperationFailedError,
    PermissionDeniedError,
    ReferencedRecordNotFoundError,
    RetryableConflictError,
    StatementTimeoutError,
    ValidationError,
)
from leadledger.db.rpc import AsyncDatabase, Database
from leadledger.db.settings import Settings

__all__ = [
    "AsyncDatabase",
    "BusinessRuleError",
    "ConfigurationError",
    "Database",
    "DatabaseError",
    "DatabaseUnavailableError",
    "DuplicateRecordError",
    "LeadledgerError",
    "MigrationError",
    "OperationFailedError",
    "PermissionDeniedError",
    "ReferencedRecordNotFoundError",
    "RetryableConflictError",
    "Settings",
    "StatementTimeoutError",
    "ValidationError",
]
