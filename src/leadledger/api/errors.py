"""HTTP status for each error class, in one place: every router raises typed errors and lets
these handlers answer. Validation 422 (naming the field), not found 404, conflicts 409,
retryable 503 with Retry-After, anything else 500 without internals."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from leadledger.db.errors import (
    BusinessRuleError,
    ConfigurationError,
    DatabaseUnavailableError,
    DuplicateRecordError,
    LeadledgerError,
    PermissionDeniedError,
    ReferencedRecordNotFoundError,
    RetryableConflictError,
    StatementTimeoutError,
    ValidationError,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "1"


def status_for(exc: LeadledgerError) -> int:
    if isinstance(exc, ValidationError):
        return 422
    if isinstance(exc, ReferencedRecordNotFoundError):
        return 404
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, DuplicateRecordError | BusinessRuleError):
        return 409
    if isinstance(exc, RetryableConflictError | DatabaseUnavailableError | ConfigurationError):
        return 503
    if isinstance(exc, StatementTimeoutError):
        return 504
    return 500


async def leadledger_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LeadledgerError)
    status = status_for(exc)
    body: dict[str, Any] = {"error": exc.message, "error_code": exc.error_code}
    if exc.envelope and isinstance(exc.envelope.get("errors"), list):
        body["errors"] = exc.envelope["errors"]
    if status == 500:
        logger.error("request failed", extra={"path": request.url.path, "error": str(exc)})
        body = {"error": "Database operation failed", "error_code": exc.error_code}
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LeadledgerError, leadledger_error_handler)
