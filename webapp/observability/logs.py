"""Logging an operator can search: ``LOG_FORMAT=text|json``, a request id on every line, no secrets.

Every line gets ``request_id``, ``project_id``, ``calendar_id`` and ``task`` where they are known:
from the request being served (Flask's ``g`` and view arguments), or from what a worker bound
with ``bind`` for the task it runs. The formatter redacts every finished line (``redact.redact_text``)
as a last guard; the places that print URLs redact them first.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context, request

from webapp.observability.redact import redact_text

FIELDS = ("request_id", "project_id", "calendar_id", "task")
LOG_FORMATS = ("text", "json")
REQUEST_ID_HEADER = "X-Request-ID"
# An incoming request id is kept when it is short and plain (no spaces, quotes or control characters).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")

_bound: ContextVar[dict[str, str] | None] = ContextVar("log_fields", default=None)
_HANDLER_MARK = "_calendar_connect"


@contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Add fields (``task``, ``calendar_id``, ``project_id``) to every line logged inside the block."""
    current = dict(_bound.get() or {})
    current.update({k: v for k, v in fields.items() if v})
    token = _bound.set(current)
    try:
        yield
    finally:
        _bound.reset(token)


def incoming_request_id(value: str | None) -> str:
    """The client's ``X-Request-ID`` when it is sane, else a new one."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return os.urandom(16).hex()  # as random as uuid4().hex, at a fifth of its cost


def current_request_id() -> str | None:
    if has_request_context():
        request_id: str | None = g.get("request_id")
        return request_id
    return None


def _context_fields() -> dict[str, str]:
    fields = dict(_bound.get() or {})
    if has_request_context():
        request_id = g.get("request_id")
        if request_id:
            fields["request_id"] = request_id
        project = g.get("project")
        object_id = getattr(project, "object_id", None)
        if object_id:
            fields.setdefault("project_id", object_id)
        view_args = request.view_args or {}
        calendar_id = view_args.get("calendar_id") or (
            view_args.get("object_id") if request.path.startswith("/api/v1/calendars/") else None
        )
        if calendar_id:
            fields.setdefault("calendar_id", str(calendar_id))
    return fields


class ContextFilter(logging.Filter):
    """Copies the known context fields onto each record (a field given in ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context_fields().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """``time level logger: message [request_id=… calendar_id=…]``, redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{name}={value}" for name in FIELDS if (value := getattr(record, name, None)))
        if extra:
            first, newline, rest = line.partition("\n")
            line = f"{first} [{extra}]{newline}{rest}"
        return redact_text(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` and the known fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = str(value)
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def log_format_from(environ: dict[str, str] | os._Environ[str]) -> str:
    """``LOG_FORMAT`` (``text`` when unset); anything else is refused by the settings."""
    return (environ.get("LOG_FORMAT", "").strip().lower()) or "text"


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Put one handler on the root logger, with the chosen format and the context filter (idempotent).

    Quieted loggers: Celery's per-task lines (two INFO lines a second for the idle dispatcher) and
    the beat's "Sending due task" lines (the sync and webhook modules log one line per attempt
    instead), and Authlib's DEBUG lines, which print the PKCE code verifier.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("alembic", "celery.app.trace", "celery.worker.strategy", "celery.beat"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("authlib").setLevel(logging.INFO)
