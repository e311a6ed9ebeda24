"""Delivery end to end against a real receiver on loopback: signatures, envelopes, retries, pausing, the outbox."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from flask import Flask

from tests.webhooks.conftest import Receiver, Reply, record_committed
from webapp.extensions import db, utcnow
from webapp.models import Calendar, Project, WebhookDelivery, WebhookEndpoint, WebhookSecret
from webapp.runtime.celery_app import celery_for
from webapp.webhooks import delivery, keys, service, signing

STATE_CHANGE = "calendar.state_change"
EVENTS_UPDATE = "calendar.events_update"


def _secret(project: Project) -> bytes:
    return keys.secret_bytes(keys.live_secrets(project.id, utcnow())[0])


def test_state_change_is_signed_and_carries_the_attendee_envelope(
    project: Project, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    calendar.state = "disconnected"
    calendar.connection_failure_data = {"error": "Token revoked", "timestamp": "2025-01-13T10:30:00.123456Z"}
    [pending] = record_committed(calendar, STATE_CHANGE)
    assert receiver.requests == []  # recorded, not sent

    sent = delivery.deliver(pending.id, now=utcnow())

    assert sent is not None and sent.status == "delivered" and sent.attempt_count == 1
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Webhook-Idempotency-Key"] == pending.idempotency_key
    assert signing.verify(_secret(project), request.body, request.headers["X-Webhook-Signature"])
    assert request.headers["X-Webhook-Signature"] == signing.sign(_secret(project), request.body)
    assert "X-Webhook-Signatures" not in request.headers  # no rotation going on
    envelope = json.loads(request.body)
    assert request.body == signing.canonical_json(envelope)
    assert envelope == {
        "idempotency_key": pending.idempotency_key,
        "calendar_id": calendar.object_id,
        "calendar_deduplication_key": "user-abcd",
        "calendar_metadata": {"tenant_id": "1234567890"},
        "trigger": STATE_CHANGE,
        "data": {
            "state": "disconnected",
            "connection_failure_data": {"error": "Token revoked", "timestamp": "2025-01-13T10:30:00.123456Z"},
            "last_successful_sync_at": None,
            "last_attempted_sync_at": None,
        },
    }
    [attempt] = sent.attempts
    assert attempt.status_code == 200 and attempt.response_body == "ok" and attempt.error is None


def test_events_update_goes_only_to_endpoints_that_want_it(
    project: Project, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    service.create_endpoint(project=project, url=receiver.url("/state-only"), triggers=[STATE_CHANGE])
    service.create_endpoint(project=project, url=receiver.url("/paused"), state="paused")
    calendar.last_successful_sync_at = utcnow()
    [pending] = record_committed(calendar, EVENTS_UPDATE)

    delivery.deliver(pending.id, now=utcnow())

    [request] = receiver.requests
    assert request.path == "/hook"
    envelope = json.loads(request.body)
    assert envelope["trigger"] == EVENTS_UPDATE
    assert envelope["data"]["state"] == "connected"
    assert envelope["data"]["last_successful_sync_at"].endswith("Z")
    assert signing.verify(_secret(project), request.body, request.headers["X-Webhook-Signature"])


def test_nothing_is_recorded_without_an_endpoint(project: Project, calendar: Calendar) -> None:
    assert record_committed(calendar, STATE_CHANGE) == []
    assert db.session.scalars(db.select(WebhookDelivery)).all() == []


def test_a_500_is_retried_with_backoff_and_the_same_idempotency_key(
    app: Flask, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    receiver.planned = [Reply(500, body=b"boom " * 200)]
    [pending] = record_committed(calendar, STATE_CHANGE)
    now = utcnow()

    first = delivery.deliver(pending.id, now=now)
    assert first is not None and first.status == "pending" and first.attempt_count == 1
    assert first.next_attempt_at is not None
    wait = (first.next_attempt_at - now).total_seconds()
    assert 15 <= wait <= 30  # base 30 s, jitter over the upper half
    assert first.attempts[0].status_code == 500
    assert first.attempts[0].response_body == ("boom " * 200)[:500]
    assert delivery.deliver(pending.id, now=now) is None  # not due yet: nothing sent
    assert delivery.due_delivery_ids(now) == []

    assert delivery.due_delivery_ids(now + timedelta(seconds=31)) == [pending.id]
    second = delivery.deliver(pending.id, now=now + timedelta(seconds=31))
    assert second is not None and second.status == "delivered" and second.attempt_count == 2
    first_request, second_request = receiver.requests
    assert first_request.body == second_request.body
    key = pending.idempotency_key
    assert first_request.headers["X-Webhook-Idempotency-Key"] == second_request.headers["X-Webhook-Idempotency-Key"]
    assert second_request.headers["X-Webhook-Idempotency-Key"] == key
    assert delivery.deliver(pending.id, now=now + timedelta(hours=1)) is None  # delivered: never again


def test_a_timeout_is_retried(app: Flask, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver) -> None:
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.2
    receiver.planned = [Reply(200, delay=0.6)]
    [pending] = record_committed(calendar, STATE_CHANGE)
    now = utcnow()

    first = delivery.deliver(pending.id, now=now)
    assert first is not None and first.status == "pending"
    [attempt] = first.attempts
    assert attempt.status_code is None and attempt.error == "Timed out after 0.2 s"
    assert 150 <= attempt.latency_ms < 600

    second = delivery.deliver(pending.id, now=now + timedelta(minutes=5))
    assert second is not None and second.status == "delivered"
    assert len(receiver.requests) == 2


def test_redirects_are_not_followed(calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver) -> None:
    receiver.planned = [Reply(302, headers={"Location": receiver.url("/elsewhere")})]
    [pending] = record_committed(calendar, STATE_CHANGE)
    sent = delivery.deliver(pending.id, now=utcnow())
    assert sent is not None and sent.status == "pending" and sent.attempts[0].status_code == 302
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_attempts_run_out_then_the_endpoint_pauses_after_repeated_failed_deliveries(
    app: Flask, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    app.config.update(WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_PAUSE_AFTER_FAILURES=2)
    receiver.default = Reply(503)
    for round_number in range(2):
        [pending] = record_committed(calendar, STATE_CHANGE)
        now = utcnow()
        assert delivery.deliver(pending.id, now=now) is not None
        done = delivery.deliver(pending.id, now=now + timedelta(hours=1))
        assert done is not None and done.status == "failed" and done.next_attempt_at is None
        db.session.refresh(endpoint)
        assert endpoint.failure_count == round_number + 1

    assert endpoint.state == "paused"
    assert endpoint.paused_reason == "Paused automatically after 2 failed deliveries in a row (last: HTTP 503)."
    assert record_committed(calendar, STATE_CHANGE) == []  # paused: nothing new is recorded
    assert len(receiver.requests) == 4

    service.update_endpoint(endpoint=endpoint, state="active")
    assert (endpoint.state, endpoint.failure_count, endpoint.paused_reason) == ("active", 0, None)


def test_a_success_resets_the_failure_run(
    app: Flask, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1)
    receiver.planned = [Reply(500)]
    [failing] = record_committed(calendar, STATE_CHANGE)
    delivery.deliver(failing.id, now=utcnow())
    assert endpoint.failure_count == 1
    [working] = record_committed(calendar, STATE_CHANGE)
    delivery.deliver(working.id, now=utcnow())
    assert endpoint.failure_count == 0 and endpoint.state == "active"


def test_a_worker_killed_between_commit_and_delivery_still_delivers(
    app: Flask, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    # The change and its outbox rows are committed; the process dies before anything is enqueued.
    [pending] = record_committed(calendar, STATE_CHANGE)
    celery = celery_for(app)
    celery.conf.task_always_eager = True  # the restarted worker and beat, in this process

    celery.tasks["webhooks.sweep"].apply()

    db.session.expire_all()
    stored = db.session.get(WebhookDelivery, pending.id)
    assert stored is not None and stored.status == "delivered"
    [request] = receiver.requests
    assert json.loads(request.body)["idempotency_key"] == pending.idempotency_key


def test_a_claimed_delivery_is_not_sent_twice(
    calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    [pending] = record_committed(calendar, STATE_CHANGE)
    now = utcnow()
    assert delivery._claim(pending.id, now)  # a worker took it and died mid-attempt
    assert delivery.deliver(pending.id, now=now) is None
    claim = timedelta(seconds=10 + delivery._CLAIM_MARGIN_SECONDS)  # the timeout, then the margin
    assert delivery.due_delivery_ids(now + claim - timedelta(seconds=1)) == []
    later = now + claim + timedelta(seconds=1)  # the claim ran out: the sweep finds it again
    assert later - now <= timedelta(seconds=60)  # an interrupted delivery is retried within a minute
    assert delivery.due_delivery_ids(later) == [pending.id]
    assert delivery.deliver(pending.id, now=later) is not None
    assert len(receiver.requests) == 1


def test_enqueue_recorded_hands_committed_rows_to_celery(
    app: Flask, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    celery_for(app).conf.task_always_eager = True
    service.record(calendar, STATE_CHANGE)
    db.session.rollback()  # a failed transaction: its rows are never sent
    service.record(calendar, EVENTS_UPDATE)
    db.session.commit()
    service.enqueue_recorded()
    [request] = receiver.requests
    assert json.loads(request.body)["trigger"] == EVENTS_UPDATE


def test_during_rotation_every_live_secret_signs(
    project: Project, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    old = _secret(project)
    new_text, expires = service.rotate_secret(project=project)
    new = base64.b64decode(new_text)
    assert new != old and len(new) == 32
    [during] = record_committed(calendar, STATE_CHANGE)
    delivery.deliver(during.id, now=utcnow())
    [request] = receiver.requests
    assert signing.verify(new, request.body, request.headers["X-Webhook-Signature"])
    [other] = signing.parse_rotation_header(request.headers["X-Webhook-Signatures"])
    assert signing.verify(old, request.body, other)
    assert request.headers["X-Webhook-Signatures"] == f"v1={other}"

    [after] = record_committed(calendar, STATE_CHANGE)
    delivery.deliver(after.id, now=expires + timedelta(seconds=1))
    late = receiver.requests[1]
    assert signing.verify(new, late.body, late.headers["X-Webhook-Signature"])
    assert "X-Webhook-Signatures" not in late.headers


def test_secrets_are_encrypted_at_rest(project: Project, endpoint: WebhookEndpoint) -> None:
    [stored] = db.session.scalars(db.select(WebhookSecret)).all()
    plain = keys.secret_text(stored)
    assert plain.encode() not in stored.secret_ciphertext
    assert len(base64.b64decode(plain)) == 32


def test_a_deleted_calendar_keeps_its_deliveries(
    calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    [pending] = record_committed(calendar, STATE_CHANGE)
    db.session.delete(calendar)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(WebhookDelivery, pending.id)
    assert stored is not None and stored.calendar_id is None
    assert delivery.deliver(pending.id, now=utcnow()) is not None
    assert len(receiver.requests) == 1
