"""Prometheus metrics with the official ``prometheus-client``: counters where things happen, gauges at scrape.

Counters and histograms live in the process that counts (web workers: HTTP; the Celery worker:
syncs, deliveries, refreshes). With ``PROMETHEUS_MULTIPROC_DIR`` set (``flask serve`` sets it for
gunicorn and the worker), every process writes its values to files there and a scrape adds them
up, so the web's ``/metrics`` includes what the worker counted. Gauges that describe the data
(calendars by state, backlogs, heartbeat ages) are counted in the database at scrape time, one
grouped query each (``webapp.observability.status``), so no process has to keep them current.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from webapp.models import Calendar
    from webapp.observability.status import ServiceStatus
    from webapp.sync.result import Stopwatch

log = logging.getLogger("webapp.observability")
sync_log = logging.getLogger("webapp.sync")
webhook_log = logging.getLogger("webapp.webhooks")

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
_SYNC_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by route rule (never the raw path).",
    ["method", "endpoint", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by route rule.", ["method", "endpoint"]
)
SYNC_ATTEMPTS = Counter(
    "calendar_sync_attempts_total",
    "Sync attempts; code is the failure taxonomy code (empty on success).",
    ["platform", "outcome", "code"],
)
SYNC_DURATION = Histogram(
    "calendar_sync_duration_seconds", "Duration of a sync attempt.", ["platform"], buckets=_SYNC_BUCKETS
)
WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries_total",
    "Webhook delivery attempts: delivered, failed (a retry follows) or gave_up (the last attempt failed).",
    ["outcome"],
)
DISCONNECTS = Counter(
    "calendar_disconnects_total", "Calendars the sync engine disconnected, by failure code.", ["platform", "code"]
)
TOKEN_REFRESHES = Counter("token_refreshes_total", "OAuth access-token refreshes.", ["platform", "outcome"])
PUSH_NOTIFICATIONS = Counter(
    "push_notifications_total", "Push notification requests from the providers.", ["platform", "outcome"]
)

# Children looked up once per label set: labels() costs a lock and a tuple build per call.
_http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


# Any other method a client invents is counted as "other": label values must stay a bounded set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    if method not in _METHODS:
        method = "other"
    key = (method, endpoint, status)
    children = _http_children.get(key)
    if children is None:
        children = (HTTP_REQUESTS.labels(method, endpoint, str(status)), HTTP_DURATION.labels(method, endpoint))
        _http_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def record_sync_attempt(calendar: Calendar, outcome: str, code: str | None, started: Stopwatch) -> None:
    """Count one sync attempt and log its one line (outcome, code, duration)."""
    seconds = max(0.0, time.monotonic() - started.started)
    SYNC_ATTEMPTS.labels(calendar.platform, outcome, code or "").inc()
    SYNC_DURATION.labels(calendar.platform).observe(seconds)
    level = logging.INFO if outcome == "success" else logging.WARNING
    sync_log.log(
        level,
        "sync attempt outcome=%s code=%s duration_ms=%d failures_in_a_row=%d",
        outcome,
        code or "-",
        seconds * 1000,
        calendar.failure_count,
        extra={"calendar_id": calendar.object_id},
    )


def record_webhook_attempt(
    delivery_id: str, outcome: str, status_code: int | None, error: str | None, latency_ms: int, attempt: int
) -> None:
    """Count one delivery attempt and log its one line; ``outcome`` is delivered, failed or gave_up."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    webhook_log.log(
        logging.INFO if outcome == "delivered" else logging.WARNING,
        "webhook attempt delivery=%s outcome=%s status=%s attempt=%d duration_ms=%d%s",
        delivery_id,
        outcome,
        status_code if status_code is not None else "-",
        attempt,
        latency_ms,
        f" error={error}" if error else "",
    )


def record_state_change(platform: str, to_state: str, code: str | None) -> None:
    if to_state == "disconnected":
        DISCONNECTS.labels(platform, code or "").inc()


def record_token_refresh(platform: str, outcome: str) -> None:
    TOKEN_REFRESHES.labels(platform, outcome).inc()


def record_push_notification(platform: str, status: int, *, handshake: bool = False) -> None:
    """Outcome from the answer given: accepted (2xx), refused (403), invalid (anything else), or
    validation (Graph's subscription handshake)."""
    outcome = "accepted" if 200 <= status < 300 else "refused" if status == 403 else "invalid"
    outcome = "validation" if handshake and outcome == "accepted" else outcome
    PUSH_NOTIFICATIONS.labels(platform, outcome).inc()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_registry() -> CollectorRegistry:
    """What this process family counted: every process's files in multi-process mode, else this process."""
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


class StatusCollector:
    """The gauges counted in the database at scrape time."""

    def __init__(self, status: ServiceStatus) -> None:
        self.status = status

    def collect(self) -> Iterable[Metric]:
        status = self.status
        calendars = GaugeMetricFamily("calendars", "Calendars by platform and state.", labels=["platform", "state"])
        for (platform, state), count in sorted(status.calendars.items()):
            calendars.add_metric([platform, state], count)
        yield calendars
        yield GaugeMetricFamily(
            "calendar_sync_backlog",
            "Requested syncs that are due and not yet started.",
            value=status.sync_backlog.count,
        )
        yield GaugeMetricFamily(
            "calendar_sync_backlog_oldest_seconds",
            "How long the oldest due sync request has waited (0 when none).",
            value=status.sync_backlog.oldest_seconds or 0.0,
        )
        yield GaugeMetricFamily(
            "webhook_backlog", "Webhook deliveries due and not yet sent.", value=status.webhook_backlog.count
        )
        yield GaugeMetricFamily(
            "webhook_backlog_oldest_seconds",
            "How long the oldest due webhook delivery has waited (0 when none).",
            value=status.webhook_backlog.oldest_seconds or 0.0,
        )
        for kind, age in (("worker", status.worker_age), ("scheduler", status.scheduler_age)):
            yield GaugeMetricFamily(
                f"{kind}_heartbeat_age_seconds",
                f"Seconds since the newest {kind} heartbeat (+Inf when none was ever written).",
                value=math.inf if age is None else age,
            )


def exposition(status: ServiceStatus | None) -> bytes:
    """The text exposition: this process family's counters, then the database gauges when given."""
    body = generate_latest(process_registry())
    if status is not None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StatusCollector(status))
        body += generate_latest(registry)
    return body
