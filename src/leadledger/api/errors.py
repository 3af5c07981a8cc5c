"""Every error answer of the API, in one place: routers raise typed errors and these handlers
answer, with one body shape and one Retry-After rule (docs/decisions.md D11, D43).

The body of every non-2xx answer::

    {"error": "<message>", "error_code": "<SQLSTATE or machine code>", ...optional fields}

``error_code`` is the SQLSTATE when the database refused (``23505``, ``P0001`` ...) and for bad
input wherever it was caught (``22023``: a request field, a query parameter, a cursor, a stored
function's parameter); otherwise a snake_case machine code (``not_found``, ``invalid_signature``).
Optional fields: ``errors`` (the problems one by one: a ``{"field", "message"}`` for every bad
request field, ``field`` as ``body.zip_codes[0].zip_code``; a stored function's per-item errors
as it lists them), ``sent`` and ``wa_message_id`` (a WhatsApp message sent but not recorded),
``whatsapp_status`` and ``details`` (the Cloud API refused the message), and the health report's
fields on GET /api/health's 503.

Retry-After: every 503 (and 429) answer carries it; the seconds are the ``retry_after`` of the
error's row in :data:`RULES` (:data:`RETRY_AFTER_SECONDS` unless the row says otherwise).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadledger.api.pagination import InvalidCursorError
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
from leadledger.leads.service import (
    MessageSentNotRecordedError,
    WebhookBodyError,
    WebhookRedeliveryError,
    WebhookSignatureError,
    WebhookVerificationError,
)
from leadledger.leads.whatsapp import WhatsAppSendError

logger = logging.getLogger(__name__)

#: Seconds a client should wait before retrying a 503 (or 429), unless the error's row says more.
RETRY_AFTER_SECONDS = 1
#: The database could not be reached: a retry in a second would most likely fail again.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5

#: The error_code of validation failures, whoever caught them (invalid_parameter_value).
INVALID_INPUT_CODE = "22023"


class ErrorBody(BaseModel):
    """The body of every error answer (for the OpenAPI document; built by :func:`error_response`)."""

    model_config = ConfigDict(extra="allow")

    error: str
    error_code: str
    errors: list[dict[str, Any]] | None = None


#: Every route's 4XX and 5XX answers, as the OpenAPI document states them (instead of FastAPI's
#: default ``{"detail": [...]}`` for 422).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "Error (422: every bad field in `errors`)"},
    "5XX": {"model": ErrorBody, "description": "Error (503: with Retry-After)"},
}


# -- errors the HTTP layer raises itself ----------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class InvalidInputError(LeadledgerError):
    """Bad request fields found outside pydantic (a phone number that does not normalise in the
    configured region, say): 422 naming each."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        assert problems
        super().__init__(f"{problems[0].field}: {problems[0].message}", error_code=INVALID_INPUT_CODE)
        self.problems = list(problems)

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidInputError:
        return cls([FieldProblem(field, message)])


class ServiceUnavailableError(LeadledgerError):
    """The service cannot answer now (GET /api/health with the database down); ``fields`` join
    the error body."""

    def __init__(
        self, message: str, fields: Mapping[str, Any], *, error_code: str = "service_unavailable"
    ) -> None:
        super().__init__(message, error_code=error_code)
        self.fields = dict(fields)


# -- the one table --------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorRule:
    """How one class of error answers. ``status`` None: the status (and Retry-After) of the error
    it was raised from (``__cause__``). ``code``: the error_code when the error carries none.
    ``fields``: extra body fields taken from the error."""

    status: int | None
    code: str | None = None
    retry_after: int = RETRY_AFTER_SECONDS
    fields: Callable[[Any], Mapping[str, Any]] | None = None


def _problems(problems: Sequence[FieldProblem]) -> dict[str, Any]:
    return {"errors": [{"field": p.field, "message": p.message} for p in problems]}


def _envelope_errors(exc: LeadledgerError) -> Mapping[str, Any]:
    """Per-item errors a stored function's envelope carries (a bulk call's ``errors``)."""
    if exc.envelope and isinstance(exc.envelope.get("errors"), list):
        return {"errors": exc.envelope["errors"]}
    return {}


#: The first row whose class the error is an instance of answers it (most specific first).
RULES: tuple[tuple[type[LeadledgerError], ErrorRule], ...] = (
    (InvalidInputError, ErrorRule(422, INVALID_INPUT_CODE, fields=lambda e: _problems(e.problems))),
    (
        InvalidCursorError,
        ErrorRule(422, INVALID_INPUT_CODE, fields=lambda e: _problems([FieldProblem(e.field, e.reason)])),
    ),
    (
        MessageSentNotRecordedError,
        ErrorRule(None, fields=lambda e: {"sent": True, "wa_message_id": e.wa_message_id}),
    ),
    (WebhookVerificationError, ErrorRule(403, "verification_failed")),
    (WebhookSignatureError, ErrorRule(401, "invalid_signature")),
    (WebhookBodyError, ErrorRule(400, "invalid_json")),
    (WebhookRedeliveryError, ErrorRule(503, "try_again")),
    (
        WhatsAppSendError,
        ErrorRule(
            502,
            "whatsapp_send_failed",
            fields=lambda e: {"whatsapp_status": e.status_code, "details": e.details},
        ),
    ),
    (
        ServiceUnavailableError,
        ErrorRule(503, retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS, fields=lambda e: e.fields),
    ),
    (ValidationError, ErrorRule(422, INVALID_INPUT_CODE, fields=_envelope_errors)),
    (ReferencedRecordNotFoundError, ErrorRule(404, "not_found")),
    (PermissionDeniedError, ErrorRule(403, "forbidden")),
    (DuplicateRecordError, ErrorRule(409, "conflict")),
    (BusinessRuleError, ErrorRule(409, "conflict")),
    (RetryableConflictError, ErrorRule(503, "try_again")),
    (
        DatabaseUnavailableError,
        ErrorRule(503, "database_unavailable", retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS),
    ),
    (ConfigurationError, ErrorRule(503, "not_configured")),
    (StatementTimeoutError, ErrorRule(504, "timeout")),
    (LeadledgerError, ErrorRule(500, "internal_error")),
)


def rule_for(exc: LeadledgerError) -> ErrorRule:
    for cls, rule in RULES:
        if isinstance(exc, cls):
            if rule.status is None:
                cause = exc.__cause__
                base = rule_for(cause) if isinstance(cause, LeadledgerError) else RULES[-1][1]
                return ErrorRule(base.status, base.code, base.retry_after, rule.fields)
            return rule
    raise AssertionError("LeadledgerError has a row")  # pragma: no cover


def status_for(exc: LeadledgerError) -> int:
    """The HTTP status of ``exc``."""
    status = rule_for(exc).status
    assert status is not None
    return status


# -- the one answer -------------------------------------------------------------------------


def error_response(
    status: int,
    message: str,
    error_code: str,
    fields: Mapping[str, Any] | None = None,
    *,
    retry_after: int = RETRY_AFTER_SECONDS,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The body and headers of every error answer: the only place either is built."""
    body: dict[str, Any] = {"error": message, "error_code": error_code}
    for key, value in (fields or {}).items():
        body.setdefault(key, value)
    all_headers = dict(headers or {})
    if status in (503, 429):
        all_headers.setdefault("Retry-After", str(retry_after))
    return JSONResponse(body, status_code=status, headers=all_headers or None)


def _http_code(status: int) -> str:
    """``not_found`` for 404: the status phrase in snake_case."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return f"http_{status}"


def _field_name(loc: Sequence[int | str]) -> str:
    """``body.zip_codes[0].zip_code`` from pydantic's ``("body", "zip_codes", 0, "zip_code")``."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _message(error: Mapping[str, Any]) -> str:
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


async def leadledger_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LeadledgerError)
    rule = rule_for(exc)
    assert rule.status is not None
    message = exc.message
    if rule.status == 500:
        logger.error("request failed", extra={"path": request.url.path, "error": str(exc)})
        message = "Database operation failed"  # no internals
    fields = rule.fields(exc) if rule.fields else None
    return error_response(
        rule.status, message, exc.error_code or rule.code or "error", fields, retry_after=rule.retry_after
    )


async def request_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [FieldProblem(_field_name(e.get("loc", ())), _message(e)) for e in exc.errors()]
    if not problems:  # pragma: no cover - FastAPI always names one
        problems = [FieldProblem("body", "invalid request")]
    return error_response(
        422,
        f"{problems[0].field}: {problems[0].message}",
        INVALID_INPUT_CODE,
        _problems(problems),
    )


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """HTTPException raised by a route or a dependency (401 from authentication) and Starlette's
    own (404 no such route, 405 wrong method)."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, detail, _http_code(exc.status_code), headers=exc.headers)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: 500 in the same shape, without internals (the exception is logged)."""
    logger.exception("unexpected error", extra={"path": request.url.path})
    return error_response(500, "Internal server error", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LeadledgerError, leadledger_error_handler)
    app.add_exception_handler(RequestValidationError, request_validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
