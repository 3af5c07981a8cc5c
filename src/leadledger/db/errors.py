"""Error classes, and the one place that maps an SQLSTATE to one of them.

Both paths end here: an error envelope returned by a stored function (``error_code`` is its
SQLSTATE) and an exception raised by psycopg (``diag.sqlstate``). The original psycopg error is
kept as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
import psycopg_pool

#: The start of DETAIL of every error a stored function raises on purpose
#: (``leadledger.raise_error``, ``leadledger.invalid_parameter``): how the functions' own errors
#: are told from the engine's in any server language. Not part of the detail shown to anyone.
OWN_ERROR_MARKER = "leadledger:"

#: SQLSTATEs worth another attempt: deadlock, serialization failure, lock not available, too many
#: connections, admin shutdown. Class 08 (connection exceptions) is retryable as a whole.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03", "53300", "57P01"})


class LeadledgerError(Exception):
    """Base class of every error leadledger raises on purpose."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        error_detail: str | None = None,
        function: str | None = None,
        envelope: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.error_detail = error_detail
        self.function = function
        #: The whole failure envelope, when the error came from one (it may carry more, such as
        #: the per-item ``errors`` of a bulk call).
        self.envelope = dict(envelope) if envelope is not None else None

    def __str__(self) -> str:
        where = f"{self.function}: " if self.function else ""
        code = f" [{self.error_code}]" if self.error_code else ""
        return f"{where}{self.message}{code}"


class ConfigurationError(LeadledgerError):
    """The settings are unusable (a malformed database URL, say)."""


class DatabaseUnavailableError(LeadledgerError):
    """The server could not be reached, or the connection was lost (SQLSTATE class 08)."""

    retryable = True


class MigrationError(LeadledgerError):
    """A migration could not be applied or rolled back, or the history does not match the files."""


class DatabaseError(LeadledgerError):
    """An error from a stored function or the server, classified by SQLSTATE."""


class ValidationError(DatabaseError):
    """Bad input: SQLSTATE class 22 (data exception), 23502 (not null) or 23514 (check)."""


class DuplicateRecordError(DatabaseError):
    """SQLSTATE 23505: the record exists already."""


class ReferencedRecordNotFoundError(DatabaseError):
    """SQLSTATE 23503: a record the call refers to does not exist."""


class PermissionDeniedError(DatabaseError):
    """SQLSTATE 42501: the caller may not act on this record or for this user."""


class BusinessRuleError(DatabaseError):
    """SQLSTATE P0001: the function refused the operation with its own message."""


class RetryableConflictError(DatabaseError):
    """A lock or serialization conflict (40001, 40P01, 55P03, 53300, 57P01); try again."""

    retryable = True


class StatementTimeoutError(DatabaseError):
    """SQLSTATE 57014: the call ran past its statement timeout and the server cancelled it."""


class OperationFailedError(DatabaseError):
    """Any other database error."""


def exception_class_for(sqlstate: str | None) -> type[DatabaseError]:
    """The error class for one SQLSTATE: the single mapping table of the project."""
    if not sqlstate:
        return OperationFailedError
    if sqlstate == "23505":
        return DuplicateRecordError
    if sqlstate == "23503":
        return ReferencedRecordNotFoundError
    if sqlstate in RETRYABLE_SQLSTATES:
        return RetryableConflictError
    if sqlstate == "P0001":
        return BusinessRuleError
    if sqlstate == "42501":
        return PermissionDeniedError
    if sqlstate == "57014":
        return StatementTimeoutError
    if sqlstate.startswith("22") or sqlstate in {"23502", "23514"}:
        return ValidationError
    return OperationFailedError


def error_from_envelope(function: str, envelope: Mapping[str, Any]) -> DatabaseError:
    """Build the exception for a ``{"success": false, ...}`` envelope."""
    code = envelope.get("error_code")
    code = str(code) if code is not None else None
    cls = exception_class_for(code)
    if envelope.get("retry_recommended") and not cls.retryable:
        cls = RetryableConflictError
    return cls(
        str(envelope.get("error") or "Database operation failed"),
        error_code=code,
        error_detail=envelope.get("error_detail"),
        function=function,
        envelope=envelope,
    )


def wrap_exception(exc: BaseException, function: str | None = None) -> LeadledgerError:
    """Translate a psycopg / psycopg_pool exception; the caller raises it ``from exc``."""
    if isinstance(exc, LeadledgerError):
        return exc
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return DatabaseUnavailableError(f"no database connection available: {exc}", function=function)
    if isinstance(exc, psycopg.Error):
        sqlstate = exc.sqlstate
        message = (exc.diag.message_primary or str(exc)).strip()
        detail = exc.diag.message_detail
        if detail is not None and detail.startswith(OWN_ERROR_MARKER):
            detail = detail.removeprefix(OWN_ERROR_MARKER) or None
        lost = sqlstate is None or sqlstate.startswith("08")
        if lost and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return DatabaseUnavailableError(
                message, error_code=sqlstate, error_detail=detail, function=function
            )
        return exception_class_for(sqlstate)(
            message, error_code=sqlstate, error_detail=detail, function=function
        )
    return OperationFailedError(str(exc), function=function)


def is_retryable(exc: BaseException) -> bool:
    """True for the errors a call retries: see :data:`RETRYABLE_SQLSTATES` and class 08."""
    return isinstance(exc, LeadledgerError) and exc.retryable
