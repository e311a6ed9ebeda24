"""Real deliveries to a loopback receiver move ``webhook_deliveries_total`` and the backlog gauges."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from flask import Flask

from tests.observability.scraping import sample, scrape
from tests.webhooks.conftest import Receiver, Reply, record_committed
from webapp.extensions import db, utcnow
from webapp.models import Calendar, WebhookEndpoint
from webapp.webhooks import delivery

STATE_CHANGE = "calendar.state_change"


def _moved(before: dict[str, object], after: dict[str, object], outcome: str) -> float:
    labels = {"outcome": outcome}
    return sample(after, "webhook_deliveries_total", labels) - sample(before, "webhook_deliveries_total", labels)  # type: ignore[arg-type]


def test_delivered_failed_and_gave_up_are_counted(
    app: Flask, calendar: Calendar, endpoint: WebhookEndpoint, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    [ok] = record_committed(calendar, STATE_CHANGE)
    [failing] = record_committed(calendar, STATE_CHANGE)
    before = scrape(app)
    backlog = sample(before, "webhook_backlog")
    assert backlog == 2 and sample(before, "webhook_backlog_oldest_seconds") >= 0

    with caplog.at_level(logging.INFO, logger="webapp.webhooks"):
        assert delivery.deliver(ok.id, now=utcnow()) is not None
        receiver.planned = [Reply(status=500), Reply(status=503)]
        first = delivery.deliver(failing.id, now=utcnow())
        assert first is not None and first.status == "pending"
        later = utcnow() + timedelta(hours=2)
        second = delivery.deliver(failing.id, now=later)
        assert second is not None and second.status == "failed"
    after = scrape(app)
    assert _moved(before, after, "delivered") == 1
    assert _moved(before, after, "failed") == 1
    assert _moved(before, after, "gave_up") == 1
    assert sample(after, "webhook_backlog") == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("webhook attempt")]
    assert len(lines) == 3
    assert f"delivery={ok.object_id} outcome=delivered status=200 attempt=1" in lines[0]
    assert "outcome=failed status=500 attempt=1" in lines[1]
    assert "outcome=gave_up status=503 attempt=2" in lines[2]


def test_the_backlog_counts_only_due_deliveries_of_active_endpoints(
    app: Flask, calendar: Calendar, endpoint: WebhookEndpoint
) -> None:
    [due] = record_committed(calendar, STATE_CHANGE)
    [later] = record_committed(calendar, STATE_CHANGE)
    later.next_attempt_at = utcnow() + timedelta(minutes=10)
    due.next_attempt_at = utcnow() - timedelta(minutes=7)
    db.session.commit()
    families = scrape(app)
    assert sample(families, "webhook_backlog") == 1
    assert 420 <= sample(families, "webhook_backlog_oldest_seconds") < 430
    endpoint.state = "paused"
    db.session.commit()
    assert sample(scrape(app), "webhook_backlog") == 0
