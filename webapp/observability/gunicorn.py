"""gunicorn's logger with secrets taken out of the access log: ``--logger-class webapp.observability.gunicorn.Logger``.

gunicorn formats its access line from "atoms" (``%(r)s`` is the request line with the raw URI,
``%(U)s`` the path, ``%(q)s`` the query, ``%(f)s`` the referer, ``%({name}i)s`` request headers,
``%({name}e)s`` the WSGI environment). Every atom that can hold a URL is redacted
(``/connect/<redacted>/done``, ``code=<redacted>``) and credential headers are dropped, whatever
``--access-logformat`` asks for. The line carries the request id (the ``X-Request-ID`` answered),
and with ``LOG_FORMAT=json`` both of gunicorn's logs write one JSON object per line.
"""

from __future__ import annotations

import logging
import os
import traceback
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from webapp.observability.logs import JsonFormatter, log_format_from
from webapp.observability.redact import REDACTED, SECRET_HEADERS, redact_url

# Atoms whose value is (or contains) a URL, a path or a query.
URL_ATOMS = frozenset(
    {
        "r",
        "U",
        "q",
        "f",
        "{referer}i",
        "{origin}i",
        "{raw_uri}e",
        "{path_info}e",
        "{query_string}e",
        "{request_uri}e",
        "{http_referer}e",
        "{script_name}e",
    }
)
SECRET_ATOMS = frozenset({f"{{{name}}}i" for name in SECRET_HEADERS}) | frozenset(
    {f"{{http_{name.replace('-', '_')}}}e" for name in SECRET_HEADERS}
)


def redact_atoms(atoms: dict[str, Any]) -> dict[str, Any]:
    """gunicorn's atoms with URLs redacted and credential headers replaced."""
    for key in URL_ATOMS & atoms.keys():
        value = atoms[key]
        if isinstance(value, str):
            atoms[key] = redact_url(value)
    for key in SECRET_ATOMS & atoms.keys():
        atoms[key] = REDACTED
    return atoms


class AccessTextFormatter(logging.Formatter):
    """gunicorn's access line, then the request id."""

    def format(self, record: logging.LogRecord) -> str:
        line = record.getMessage()
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


class Logger(GunicornLogger):  # type: ignore[misc]
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        json_lines = log_format_from(os.environ) == "json"
        for log, fallback in ((self.error_log, None), (self.access_log, AccessTextFormatter())):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):
                    if json_lines:
                        handler.setFormatter(JsonFormatter())
                    elif fallback is not None:
                        handler.setFormatter(fallback)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        return redact_atoms(super().atoms(resp, req, environ, request_time))

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        request_id = atoms["{x-request-id}o"]
        extra = {"request_id": request_id} if request_id != "-" else {}
        try:
            self.access_log.info(self.cfg.access_log_format, atoms, extra=extra)
        except Exception:
            self.error(traceback.format_exc())
