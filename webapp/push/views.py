"""Public receivers for provider notifications (no API key, no CSRF: they are checked by secret)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from webapp.observability.metrics import record_push_notification
from webapp.push import notifications

bp = Blueprint("push", __name__, url_prefix="/push")


def _validation_echo() -> Response | None:
    """Graph's handshake: answer 200 text/plain with the decoded token, before anything else."""
    token = request.args.get("validationToken")
    if token is None:
        return None
    return Response(token, status=200, mimetype="text/plain")


def _payload() -> Any:
    """The JSON body; None when it is not JSON, or nested too deeply to parse (RecursionError,
    which ``silent=True`` does not cover)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


@bp.after_request
def count(response: Response) -> Response:
    """``push_notifications_total{platform, outcome}``, from the answer given."""
    platform = "google" if request.path == "/push/google" else "microsoft"
    handshake = "validationToken" in request.args
    record_push_notification(platform, response.status_code, handshake=handshake)
    return response


@bp.post("/google")
def google() -> Response:
    return Response(status=notifications.google_notification(request.headers))


@bp.post("/microsoft")
def microsoft() -> Response:
    echo = _validation_echo()
    if echo is not None:
        return echo
    payload = _payload()
    return Response(status=notifications.microsoft_notifications(payload, lifecycle=False))


@bp.post("/microsoft/lifecycle")
def microsoft_lifecycle() -> Response:
    echo = _validation_echo()
    if echo is not None:
        return echo
    payload = _payload()
    return Response(status=notifications.microsoft_notifications(payload, lifecycle=True))
