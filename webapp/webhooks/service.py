"""Webhook use cases: endpoints, the signing secret, and the outbox (``record``) that sync writes into.

Each public function that changes data is one transaction and commits, except ``record``: it adds
outbox rows to the caller's transaction, which commits them together with the change they report.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import inspect, select

from webapp.errors import FieldErrors
from webapp.extensions import db, utcnow
from webapp.models import (
    TEST_TRIGGER,
    Calendar,
    DeliveryStatus,
    EndpointState,
    ProjectScope,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookTrigger,
)
from webapp.runtime.celery_app import enqueue
from webapp.webhooks import keys, payloads, ssrf

# Outbox rows added in this session and not yet handed to Celery (see ``enqueue_recorded``).
_RECORDED = "webhooks.recorded"
MANUAL_PAUSE_REASON = "Paused through the API."


def _check_url(url: str) -> None:
    """:raises FieldErrors: not http(s), http in production, or a forbidden IP literal."""
    config = current_app.config
    try:
        ssrf.check_url_shape(url, require_https=config["APP_ENV"] == "production")
        if not config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]:
            ssrf.check_literal_address(url)
    except ssrf.RefusedDestination as exc:
        raise FieldErrors({"url": [str(exc)]}) from None


def create_endpoint(
    *, project: ProjectScope, url: str, triggers: list[str] | None = None, state: str = EndpointState.ACTIVE
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it and the project's signing secret (base64), created on first use.

    :raises FieldErrors: the URL is not allowed.
    """
    _check_url(url)
    now = utcnow()
    state = EndpointState(state)
    endpoint = WebhookEndpoint(
        project_id=project.id,
        url=url,
        triggers=triggers if triggers is not None else list(WebhookTrigger),
        state=state,
        paused_reason=MANUAL_PAUSE_REASON if state == EndpointState.PAUSED else None,
        failure_count=0,
        created_at=now,
        updated_at=now,
    )
    db.session.add(endpoint)
    secret = keys.current_secret(project.id, now)
    db.session.commit()
    return endpoint, keys.secret_text(secret)


def update_endpoint(
    *, endpoint: WebhookEndpoint, url: str | None = None, triggers: list[str] | None = None, state: str | None = None
) -> WebhookEndpoint:
    """Apply the given changes (None = unchanged); resuming clears the failure run and the reason.

    :raises FieldErrors: the URL is not allowed.
    """
    if url is not None:
        _check_url(url)
        endpoint.url = url
    if triggers is not None:
        endpoint.triggers = triggers
    if state is not None and state != endpoint.state:
        endpoint.state = EndpointState(state)
        endpoint.failure_count = 0
        endpoint.paused_reason = MANUAL_PAUSE_REASON if state == EndpointState.PAUSED else None
    endpoint.updated_at = utcnow()
    db.session.commit()
    return endpoint


def delete_endpoint(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries and their attempts."""
    db.session.delete(endpoint)
    db.session.commit()


def signing_secret(*, project: ProjectScope) -> str:
    """The project's newest signing secret (base64), created on first use."""
    secret = keys.current_secret(project.id, utcnow())
    db.session.commit()
    return keys.secret_text(secret)


def rotate_secret(*, project: ProjectScope) -> tuple[str, datetime]:
    """A new signing secret (base64); returns it and when the previous ones stop signing."""
    secret, previous_expire_at = keys.rotate(project.id, utcnow())
    db.session.commit()
    return keys.secret_text(secret), previous_expire_at


def record(calendar: Calendar, trigger: str, *, now: datetime | None = None) -> list[WebhookDelivery]:
    """Add a pending delivery for every active endpoint of the calendar's project that wants *trigger*.

    Does NOT commit: call it inside the transaction that makes the change, commit, then call
    ``enqueue_deliveries(returned)`` (or ``enqueue_recorded()``). The payload is a snapshot of the
    calendar as it is now.
    """
    now = now or utcnow()
    endpoints = db.session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.project_id == calendar.project_id,
            WebhookEndpoint.state == EndpointState.ACTIVE,
        )
        .order_by(WebhookEndpoint.id)
    )
    deliveries = []
    for endpoint in endpoints:
        if trigger not in endpoint.triggers:
            continue
        key = payloads.new_idempotency_key()
        deliveries.append(
            _pending(endpoint, trigger, key, payloads.calendar_envelope(calendar, trigger, key), now, calendar.id)
        )
    db.session.add_all(deliveries)
    db.session.info.setdefault(_RECORDED, []).extend(deliveries)
    return deliveries


def _pending(
    endpoint: WebhookEndpoint,
    trigger: str,
    key: str,
    payload: dict[str, object],
    now: datetime,
    calendar_id: int | None = None,
) -> WebhookDelivery:
    return WebhookDelivery(
        project_id=endpoint.project_id,
        endpoint=endpoint,
        calendar_id=calendar_id,
        trigger=trigger,
        idempotency_key=key,
        payload=payload,
        status=DeliveryStatus.PENDING,
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


def enqueue_deliveries(deliveries: Iterable[WebhookDelivery]) -> None:
    """Hand committed deliveries to Celery; rows of a rolled-back transaction are skipped."""
    for delivery in deliveries:
        state = inspect(delivery)
        if state.persistent and state.identity is not None:
            enqueue("webhooks.deliver", state.identity[0])


def enqueue_recorded() -> None:
    """After the commit: enqueue everything ``record`` added in this session since the last call."""
    enqueue_deliveries(db.session.info.pop(_RECORDED, []))


def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, same body and idempotency key, with a fresh retry budget.

    A delivery of a paused endpoint waits until the endpoint is resumed.
    """
    now = utcnow()
    delivery.status = DeliveryStatus.PENDING
    delivery.attempt_count = 0
    delivery.next_attempt_at = now
    delivery.updated_at = now
    db.session.commit()
    enqueue("webhooks.deliver", delivery.id)
    return delivery


def send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Record a ``webhook.test`` delivery and send it now, once (also to a paused endpoint)."""
    now = utcnow()
    key = payloads.new_idempotency_key()
    delivery = _pending(endpoint, TEST_TRIGGER, key, payloads.sample_envelope(TEST_TRIGGER, key), now)
    db.session.add(delivery)
    db.session.commit()
    from webapp.webhooks import delivery as sender  # the HTTP sender: not loaded by web workers until needed

    sender.deliver(delivery.id, now=now)
    db.session.refresh(delivery)
    return delivery
