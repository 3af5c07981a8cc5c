"""Structured logging: library code logs with ``extra={...}`` fields; this renders them.

The library never configures logging itself; the CLI and the service call
:func:`configure_logging`. ``json=True`` writes one JSON object per line (for services and log
shippers); otherwise the fields follow the message as ``key=value``.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of a record."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
