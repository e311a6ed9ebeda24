"""The one place where errors become responses: Attendee's JSON shapes under /api/, pages elsewhere."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from webapp import rate_limits
from webapp.connect.urls import CONNECT_PREFIX
from webapp.db import autocommit
from webapp.errors import AppError, FieldErrors, FrameworkError, NonFieldError
from webapp.extensions import db
from webapp.i18n import N_
from webapp.observability.redact import redact_path

log = logging.getLogger(__name__)

PAGE_NOT_FOUND = N_("This page does not exist. Check that the whole link was copied, or go back to the app.")


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _json(body: object, status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_app_error(exc: AppError) -> ResponseReturnValue:
    if not _is_api():  # an end user's page is in their language (webapp.i18n), the message too if marked
        return render_template("errors/generic.html", message=gettext(exc.message) if exc.message else ""), exc.status
    if isinstance(exc, FieldErrors):
        return _json(exc.errors, exc.status)
    if isinstance(exc, NonFieldError):
        return _json({"non_field_errors": [exc.message]}, exc.status)
    if isinstance(exc, FrameworkError):
        return _json({"detail": exc.message}, exc.status, exc.headers)
    if exc.status >= 500:
        return render_unexpected(exc)
    return _json({"error": exc.message}, exc.status)


def render_http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    if status == 404 and request.path.startswith(CONNECT_PREFIX + "/"):  # an end user's page, translated
        return render_template("errors/generic.html", message=gettext(PAGE_NOT_FOUND)), 404
    if not _is_api():
        return exc
    if status == 404:
        return _json({"error": "Not found"}, 404)
    if status == 405:
        allowed = ", ".join(getattr(exc, "valid_methods", None) or [])
        return _json({"detail": f'Method "{request.method}" not allowed.'}, 405, {"Allow": allowed})
    if status == 413:
        limit = request.max_content_length
        return _json({"detail": f"Request body is too large (limit {limit} bytes)."}, 413)
    return _json({"detail": exc.description}, status)


def render_unexpected(exc: Exception) -> ResponseReturnValue:
    """Log the failure under a fresh error id and answer without any internals."""
    db.session.rollback()
    error_id = uuid.uuid4().hex
    path = redact_path(request.path)  # a connect link's path is its secret
    log.error("Unexpected error, Error ID %s on %s %s", error_id, request.method, path, exc_info=exc)
    if _is_api():
        return _json({"detail": f"Internal server error. Error ID: {error_id}"}, 500)
    return render_template("errors/500.html", error_id=error_id), 500


# Runs of one request after lost connections (a second loss in a row is rare: the pool then
# replaces every connection it held, see SQLAlchemy's pool invalidation).
MAX_RERUNS = 2


def rerun_after_disconnect(exc: DBAPIError) -> ResponseReturnValue:
    """A database connection died under the request (a restart, ``pg_terminate_backend``), or while
    it was being opened: when the request sent nothing but ``SELECT`` (``webapp.db.pool.track_writes``),
    nothing of it can have been committed, so it runs again on a fresh connection instead of
    failing. Anything else is a 500."""
    reruns = g.get("db_reruns", 0)
    # A connection that failed while being opened (its set-up included) carries no statement.
    lost = exc.connection_invalidated or (isinstance(exc, OperationalError) and exc.statement is None)
    if not lost or g.get("db_wrote") or reruns >= MAX_RERUNS:
        return render_unexpected(exc)
    g.db_reruns = reruns + 1
    db.session.rollback()
    autocommit.release()
    log.warning("Database connection lost during %s %s; running the request again", request.method, request.path)
    app = current_app
    try:
        response = app.preprocess_request()
        return response if response is not None else app.dispatch_request()
    except Exception as error:
        return app.handle_user_exception(error)


def render_csrf_error(exc: CSRFError) -> ResponseReturnValue:
    """A form without a valid CSRF token: a clear "please reload" page (JSON under /api/)."""
    if _is_api():
        return _json({"detail": exc.description}, 400)
    return render_template("onboarding/csrf_error.html"), 400


def render_rate_limited(exc: RateLimitExceeded) -> ResponseReturnValue:
    """A broken rate limit (Flask-Limiter): Attendee's 429 with ``Retry-After``."""
    return render_app_error(rate_limits.throttled())


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, render_csrf_error)
    app.register_error_handler(RateLimitExceeded, render_rate_limited)
    app.register_error_handler(AppError, render_app_error)
    app.register_error_handler(HTTPException, render_http_error)
    app.register_error_handler(DBAPIError, rerun_after_disconnect)
    app.register_error_handler(Exception, render_unexpected)
