"""Operability: health and readiness endpoints, Prometheus metrics, request ids and logs without secrets."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from webapp.observability import logs, metrics


def init_app(app: Flask) -> None:
    """Logging in the chosen format, a request id and HTTP metrics on every request, and the endpoints.

    Called early, so the request id exists before any other hook can fail the request.
    """
    logs.configure(str(app.config.get("LOG_FORMAT") or "text"))
    app.before_request(_start_request)
    app.after_request(_finish_request)
    from webapp.observability.views import bp

    app.register_blueprint(bp)


def _start_request() -> None:
    g.request_id = logs.incoming_request_id(request.environ.get("HTTP_X_REQUEST_ID"))
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id") or logs.incoming_request_id(None)
    response.headers[logs.REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    if started is not None:
        rule = request.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"
        metrics.observe_request(request.method, endpoint, response.status_code, time.perf_counter() - started)
    return response
