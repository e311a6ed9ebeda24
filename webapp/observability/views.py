"""``/healthz``, ``/readyz`` and ``/metrics``: for load balancers, Kubernetes and Prometheus.

No session, no CSRF (GETs only, exempted anyway), no throttling. ``/metrics`` answers only to
``Authorization: Bearer <METRICS_TOKEN>`` and is a 404 when that setting is empty.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, current_app, jsonify, request

from webapp.extensions import db, utcnow
from webapp.observability import metrics, status

bp = Blueprint("observability", __name__)
log = logging.getLogger("webapp.observability")


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process can answer. Touches no database."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: 503 unless the database answers and the schema is at the head revision.

    The worker, the scheduler and the backlogs are reported but do not fail the web tier: a web
    process can serve the API while the worker is down, and taking it out of rotation would not help.
    """
    checks: dict[str, dict[str, object]] = {}
    ready = True
    try:
        status.database_round_trip()
    except Exception as exc:
        log.warning("readiness: database unavailable (%s)", type(exc).__name__)
        checks["database"] = {"ok": False, "error": "the database did not answer"}
        return _readiness(False, checks)
    checks["database"] = {"ok": True}
    try:
        current, heads = status.current_revisions(), status.head_revisions()
        at_head = current == set(heads)
        checks["migrations"] = {"ok": at_head, "current": sorted(current), "head": sorted(heads)}
    except Exception as exc:
        db.session.rollback()
        log.warning("readiness: schema revision unreadable (%s)", type(exc).__name__)
        at_head = False
        checks["migrations"] = {"ok": False, "error": "the schema revision could not be read"}
    ready = ready and at_head
    try:
        now = utcnow()
        stale_after = int(current_app.config["WORKER_STALE_SECONDS"])
        for kind, age in status.heartbeat_ages(now).items():
            fresh = age is not None and age <= stale_after
            checks[kind] = {
                "ok": fresh,
                "age_seconds": None if age is None else round(age, 1),
                "stale_after_seconds": stale_after,
            }
        checks["sync_backlog"] = status.sync_backlog(now).as_json()
        checks["webhook_backlog"] = status.webhook_backlog(now).as_json()
    except Exception as exc:  # a schema behind the code: already reported by the migrations check
        db.session.rollback()
        log.warning("readiness: status queries failed (%s)", type(exc).__name__)
    return _readiness(ready, checks)


def _readiness(ready: bool, checks: dict[str, dict[str, object]]) -> Response:
    response = jsonify({"status": "ok" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics_view() -> Response:
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    scheme, _, credential = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
        return Response(
            "Unauthorized\n", status=401, mimetype="text/plain", headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    try:
        service = status.service_status(utcnow())
    except Exception as exc:  # the counters are still worth a scrape; the missing gauges say the rest
        db.session.rollback()
        log.warning("metrics: database gauges unavailable (%s)", type(exc).__name__)
        service = None
    return Response(metrics.exposition(service), content_type=metrics.CONTENT_TYPE)
