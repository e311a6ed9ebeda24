"""Sending one delivery: claim it, sign the stored envelope, POST it, record the attempt, schedule a retry.

Safe to run twice: an attempt starts with a conditional UPDATE that claims the row until the attempt
must be over, so a duplicate task (the sweep and a countdown retry, say) finds nothing to do.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, or_, select, update

from webapp.backoff import backoff_delay
from webapp.extensions import db
from webapp.models import (
    TEST_TRIGGER,
    DeliveryStatus,
    EndpointState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webapp.observability.metrics import record_webhook_attempt
from webapp.runtime.celery_app import enqueue
from webapp.webhooks import keys, signing, ssrf

log = logging.getLogger(__name__)

USER_AGENT = "calendar-connect-webhooks/1"
# How long past the timeout a claim lasts: an attempt whose worker died is due again after this,
# and the sweep (every 15 s) sends it, with the same idempotency key, within about a minute.
_CLAIM_MARGIN_SECONDS = 20


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    body: str | None
    error: str | None
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _sendable() -> ColumnElement[bool]:
    """Deliveries whose endpoint is active; test events go out even to a paused endpoint."""
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.state == EndpointState.ACTIVE)
    return or_(WebhookDelivery.endpoint_id.in_(active), WebhookDelivery.trigger == TEST_TRIGGER)


def due_delivery_ids(now: datetime, limit: int = 1000) -> list[int]:
    """Pending deliveries whose time has come (fresh ones never enqueued, retries, expired claims)."""
    query = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            _sendable(),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _claim(delivery_id: int, now: datetime) -> bool:
    timeout = float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    until = now + timedelta(seconds=timeout + _CLAIM_MARGIN_SECONDS)
    result = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            _sendable(),
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    claimed: int = result.rowcount  # type: ignore[attr-defined]
    return claimed == 1


def deliver(delivery_id: int, *, now: datetime) -> WebhookDelivery | None:
    """Make one attempt if the delivery is due; returns it, or None when there was nothing to do."""
    if not _claim(delivery_id, now):
        return None
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    outcome = _attempt(delivery, now)
    retry_in = _apply(delivery, outcome, now)
    _record(delivery, outcome)
    db.session.commit()
    if retry_in is not None:
        enqueue("webhooks.deliver", delivery.id, countdown=retry_in)
    return delivery


def signed_headers(delivery: WebhookDelivery, body: bytes, now: datetime) -> dict[str, str]:
    """Content type, idempotency key, and a signature per live secret (newest in the contract's header)."""
    live = keys.live_secrets(delivery.project_id, now) or [keys.current_secret(delivery.project_id, now)]
    signatures = [signing.sign(keys.secret_bytes(secret), body) for secret in live]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.SIGNATURE_HEADER: signatures[0],
        signing.IDEMPOTENCY_HEADER: delivery.idempotency_key,
    }
    if len(signatures) > 1:
        headers[signing.ROTATION_SIGNATURES_HEADER] = signing.rotation_header(signatures[1:])
    return headers


def _attempt(delivery: WebhookDelivery, now: datetime) -> Outcome:
    config = current_app.config
    timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
    body = signing.canonical_json(delivery.payload)
    started = time.monotonic()
    try:
        target = ssrf.resolve(
            delivery.endpoint.url,
            require_https=config["APP_ENV"] == "production",
            allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]),
        )
        reply = ssrf.post(target, body, signed_headers(delivery, body, now), timeout)
    except (ssrf.RefusedDestination, ssrf.DeliveryError) as exc:
        return Outcome(None, None, str(exc), _elapsed_ms(started))
    return Outcome(reply.status, reply.body, None, _elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _apply(delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> float | None:
    """Store the attempt and its consequences; returns the retry delay when one is scheduled."""
    config = current_app.config
    delivery.attempts.append(
        WebhookAttempt(
            attempted_at=now,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_body=outcome.body,
            error=outcome.error,
        )
    )
    delivery.attempt_count += 1
    delivery.updated_at = now
    is_test = delivery.trigger == TEST_TRIGGER
    endpoint = delivery.endpoint
    if outcome.ok:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.DELIVERED, None
        if not is_test:
            endpoint.failure_count = 0
        return None
    if not is_test and delivery.attempt_count < int(config["WEBHOOK_MAX_ATTEMPTS"]):
        retry_in = backoff_seconds(delivery.attempt_count)
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        return retry_in
    delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    if not is_test:
        _count_failed_delivery(endpoint, outcome, now)
    return None


def _record(delivery: WebhookDelivery, outcome: Outcome) -> None:
    """The attempt's one log line and counter: delivered, failed (a retry follows) or gave_up."""
    if delivery.status == DeliveryStatus.DELIVERED:
        result = "delivered"
    else:
        result = "gave_up" if delivery.status == DeliveryStatus.FAILED else "failed"
    record_webhook_attempt(
        delivery.object_id, result, outcome.status_code, outcome.error, outcome.latency_ms, delivery.attempt_count
    )


def _count_failed_delivery(endpoint: WebhookEndpoint, outcome: Outcome, now: datetime) -> None:
    """Pause an endpoint after ``WEBHOOK_PAUSE_AFTER_FAILURES`` failed deliveries in a row."""
    endpoint.failure_count += 1
    limit = int(current_app.config["WEBHOOK_PAUSE_AFTER_FAILURES"])
    if endpoint.failure_count >= limit and endpoint.state == EndpointState.ACTIVE:
        last = f"HTTP {outcome.status_code}" if outcome.status_code is not None else outcome.error
        endpoint.state = EndpointState.PAUSED
        reason = f"Paused automatically after {endpoint.failure_count} failed deliveries in a row (last: {last})."
        endpoint.paused_reason = reason[:500]
        endpoint.updated_at = now
        log.warning("webhook endpoint %s paused: %s", endpoint.object_id, endpoint.paused_reason)


def backoff_seconds(attempt: int) -> float:
    """The service's backoff (``webapp.backoff``) from ``WEBHOOK_BACKOFF_BASE_SECONDS``, capped."""
    config = current_app.config
    return backoff_delay(
        attempt, base=config["WEBHOOK_BACKOFF_BASE_SECONDS"], cap=config["WEBHOOK_BACKOFF_MAX_SECONDS"]
    )
