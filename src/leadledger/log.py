"""Structured logging: library code logs with ``extra={...}`` fields; this renders them.

The library never configures logging itself; the CLI and the service call
:func:`configure_logging`. ``json=True`` writes one JSON object per line (for services and log
shippers); otherwise the fields follow the message as ``key=value``.

Secrets and personal data stay out of the logs (issue 10). Code logs ids and error codes, never a
customer's phone number, a message or a token; two filters hold the line where that is not enough:

* :class:`RedactingFilter` (on the handler :func:`configure_logging` installs) masks ``extra``
  fields whose names say they hold a phone number, a name, a message or a secret;
* :class:`AccessLogRedactor` (on ``uvicorn.access``: :func:`uvicorn_log_config`, which ``leadledger
  serve`` passes to uvicorn) masks the query values of every logged request line but a few
  harmless ones: Meta's webhook handshake sends its verify token as ``hub.verify_token``, and a
  search may be a customer's phone number.
"""

from __future__ import annotations

import copy
import json as jsonlib
import logging
import re
import sys
from typing import Any, TypeGuard
from urllib.parse import unquote_plus

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

#: What a masked value reads as.
REDACTED = "[redacted]"

#: ``extra`` fields masked by name: phone numbers, names, message bodies, credentials.
SENSITIVE_FIELDS = frozenset(
    {
        "to",
        "from",
        "from_",
        "phone",
        "wa_id",
        "recipient_id",
        "customer_name",
        "body",
        "text",
        "authorization",
        "api_key",
        "key",
        "password",
    }
)
_SENSITIVE_PARTS = ("phone", "token", "secret", "password", "credential")
#: Fields whose names look sensitive but are not: Meta's id of a business number (an operator
#: needs it to link an unknown number).
_NOT_SENSITIVE = frozenset({"phone_number_id"})

#: Query parameters whose values an access log line keeps (paging and filters); every other
#: value is masked.
SAFE_QUERY_PARAMETERS = frozenset({"limit", "status", "type", "hub.mode"})
_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,63}$")


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of a record."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


def is_sensitive_field(name: str) -> bool:
    lowered = name.lower()
    if lowered in _NOT_SENSITIVE:
        return False
    return lowered in SENSITIVE_FIELDS or any(part in lowered for part in _SENSITIVE_PARTS)


def redact_query(target: str) -> str:
    """A request target (``/path?query``) with the values of its query parameters masked, but
    those of :data:`SAFE_QUERY_PARAMETERS`; a parameter whose name is not a plain name is masked
    whole."""
    path, separator, query = target.partition("?")
    if not separator:
        return target
    return f"{path}?{redact_query_string(query)}"


def redact_query_string(query: str) -> str:
    """A query string (without ``?``) masked as :func:`redact_query` masks it."""
    parts = []
    for item in query.split("&"):
        name, equals, _value = item.partition("=")
        plain = unquote_plus(name)
        if not _PARAMETER_NAME.match(plain):
            parts.append(REDACTED)
        elif not equals or plain in SAFE_QUERY_PARAMETERS:
            parts.append(item)
        else:
            parts.append(f"{name}={REDACTED}")
    return "&".join(parts)


class RedactingFilter(logging.Filter):
    """Masks the ``extra`` fields :func:`is_sensitive_field` names. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in record_fields(record):
            if is_sensitive_field(name):
                setattr(record, name, REDACTED)
        return True


class AccessLogRedactor(logging.Filter):
    """Masks query values in request lines: uvicorn's access records carry ``(client, method,
    target, http version, status)`` as their arguments; any argument that is a request target
    with a query string has it redacted (:func:`redact_query`). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_is_target(a) for a in record.args):
            record.args = tuple(redact_query(a) if _is_target(a) else a for a in record.args)
        return True


def _is_target(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith("/") and "?" in value


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the redaction filters added: query values on
    ``uvicorn.access`` (:class:`AccessLogRedactor`, on the logger, so every handler sees the
    masked line) and sensitive fields on both of its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "leadledger_access": {"()": "leadledger.log.AccessLogRedactor"},
        "leadledger_fields": {"()": "leadledger.log.RedactingFilter"},
    }
    config["loggers"]["uvicorn.access"]["filters"] = ["leadledger_access"]
    for handler in config["handlers"].values():
        handler["filters"] = ["leadledger_fields"]
    return config


class StructuredFormatter(logging.Formatter):
    def __init__(self, *, json: bool = False) -> None:
        super().__init__()
        self.json = json

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        if self.json:
            payload: dict[str, Any] = {
                "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
                **fields,
            }
            if record.exc_info:
                payload["exc"] = self.formatException(record.exc_info)
            return jsonlib.dumps(payload, default=str)
        extras = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        return f"{line} {extras}" if extras else line


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter(json=json))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
