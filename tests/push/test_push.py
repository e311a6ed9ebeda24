"""Push: channels opened, renewed and stopped; notifications authenticated, debounced, turned into syncs."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from tests.emulation import ALICE, CLIENT_ID, CLIENT_SECRET, Provider
from tests.sync.conftest import at, google_refresh_token, microsoft_refresh_token, seed_events
from tests.webhooks.conftest import Receiver
from webapp.calendars import service
from webapp.extensions import db, utcnow
from webapp.models import Calendar, Platform, Project, PushChannel, PushChannelStop
from webapp.projects import service as projects
from webapp.push import service as push
from webapp.sync import dispatch, jobs
from webapp.webhooks import service as webhooks


def _wants_a_sync_soon(calendar_id: int) -> bool:
    """A notification asked for a sync: due within the debounce, not at the end of the interval."""
    db.session.expire_all()
    due = db.session.get(Calendar, calendar_id).next_sync_at  # type: ignore[union-attr]
    return due is not None and due <= utcnow() + timedelta(minutes=1)


def _project() -> Project:
    return projects.create_project(name="Push")[0]


def _calendar(project: Project, platform: Platform, token: str) -> Calendar:
    return service.create_calendar(
        project=project, platform=platform, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=token
    )


def _channels(calendar_id: int) -> list[PushChannel]:
    db.session.expire_all()
    return list(db.session.scalars(select(PushChannel).where(PushChannel.calendar_id == calendar_id)))


def _post(app: Flask, path: str, **kwargs: Any) -> requests.Response:
    with requests.post(app.config["PUBLIC_BASE_URL"] + path, timeout=10, **kwargs) as response:
        _ = response.content
    return response


@pytest.fixture
def hook_receiver() -> Any:
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    receiver.thread.join(timeout=5)


def test_an_event_change_reaches_the_integrator_through_push(
    served_app: Flask, eager: None, google: Provider, hook_receiver: Receiver
) -> None:
    project = _project()
    webhooks.create_endpoint(project=project, url=hook_receiver.url())
    seed_events(google, [{"user": ALICE, "summary": "Planning", "start": at(3), "end": at(4)}])
    calendar = _calendar(project, Platform.GOOGLE, google_refresh_token(google))
    deadline = time.monotonic() + 10
    while not _channels(calendar.id) and time.monotonic() < deadline:  # the dispatcher runs the first sync
        time.sleep(0.05)
    assert len(_channels(calendar.id)) == 1
    event_id = google.control("seed", {"events": [{"user": ALICE, "summary": "Moved", "start": at(5), "end": at(6)}]})[
        "events"
    ][0]
    hook_receiver.requests.clear()
    started = time.monotonic()
    google.control("change-event", {"id": event_id, "start": at(7), "end": at(8)})
    deadline = time.monotonic() + 10
    updates: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not updates:
        updates = [
            json.loads(r.body)
            for r in hook_receiver.requests
            if json.loads(r.body)["trigger"] == "calendar.events_update"
        ]
        time.sleep(0.05)
    assert updates, "no calendar.events_update webhook after the change"
    assert time.monotonic() - started < 10
    assert updates[0]["calendar_id"] == calendar.object_id


def test_forged_google_notifications_are_refused_and_change_nothing(served_app: Flask, google: Provider) -> None:
    calendar = _calendar(_project(), Platform.GOOGLE, google_refresh_token(google))
    assert jobs.sync_calendar(calendar.id, now=utcnow()).outcome == "success"
    channel = _channels(calendar.id)[0]
    good = {
        "X-Goog-Channel-ID": channel.channel_id,
        "X-Goog-Resource-ID": channel.resource_id or "",
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "2",
    }
    assert _post(served_app, "/push/google", headers={**good, "X-Goog-Channel-Token": "forged"}).status_code == 403
    wrong_resource = {**good, "X-Goog-Resource-ID": "other", "X-Goog-Channel-Token": "forged"}
    assert _post(served_app, "/push/google", headers=wrong_resource).status_code == 403
    unknown = {**good, "X-Goog-Channel-ID": "no-such-channel", "X-Goog-Channel-Token": "x"}
    assert _post(served_app, "/push/google", headers=unknown).status_code == 200
    assert not _wants_a_sync_soon(calendar.id)
    # The emulator's own notification carries the real token and is accepted.
    deliveries = google.control("notify", {"channel_id": channel.channel_id, "state": "exists"})["deliveries"]
    assert [d["status"] for d in deliveries] == [200]
    assert _wants_a_sync_soon(calendar.id)


def test_a_burst_of_notifications_queues_one_sync(served_app: Flask, google: Provider) -> None:
    calendar = _calendar(_project(), Platform.GOOGLE, google_refresh_token(google))
    assert jobs.sync_calendar(calendar.id, now=utcnow()).outcome == "success"
    channel = _channels(calendar.id)[0]
    before = utcnow()
    for _ in range(5):
        google.control("notify", {"channel_id": channel.channel_id, "state": "exists"})
    db.session.expire_all()
    wanted_at = db.session.get(Calendar, calendar.id).next_sync_at  # type: ignore[union-attr]
    debounce = timedelta(seconds=served_app.config["PUSH_DEBOUNCE_SECONDS"])
    assert wanted_at is not None and before + debounce <= wanted_at <= utcnow() + debounce
    # Nothing is queued before the debounce is over; then the burst is queued once.
    assert dispatch.claim_due(utcnow()) == []
    after = wanted_at + timedelta(milliseconds=1)
    assert dispatch.claim_due(after) == [calendar.id]
    assert dispatch.claim_due(after) == []


def test_google_channels_are_renewed_before_expiry_and_the_old_one_stopped(served_app: Flask, google: Provider) -> None:
    calendar = _calendar(_project(), Platform.GOOGLE, google_refresh_token(google))
    now = utcnow()
    assert jobs.sync_calendar(calendar.id, now=now).outcome == "success"
    first = _channels(calendar.id)[0]
    old_id = first.channel_id
    google.advance(6.5 * 24 * 3600)
    google.control("calls/clear")
    assert jobs.sync_calendar(calendar.id, now=now + timedelta(days=6.5)).outcome == "success"
    channels = _channels(calendar.id)
    assert len(channels) == 1 and channels[0].channel_id != old_id
    assert channels[0].expires_at > now + timedelta(days=7)
    stops = google.calls("channels_stop")
    assert [c["json"]["id"] for c in stops] == [old_id]


def test_deleting_a_calendar_stops_its_channel(served_app: Flask, google: Provider) -> None:
    calendar = _calendar(_project(), Platform.GOOGLE, google_refresh_token(google))
    assert jobs.sync_calendar(calendar.id, now=utcnow()).outcome == "success"
    channel_id = _channels(calendar.id)[0].channel_id
    service.delete_calendar(calendar=calendar)
    assert db.session.scalar(select(PushChannelStop.channel_id)) == channel_id
    google.control("calls/clear")
    assert push.process_pending_stops() == 1
    assert [c["json"]["id"] for c in google.calls("channels_stop")] == [channel_id]
    assert db.session.scalars(select(PushChannelStop)).all() == []


def test_disconnect_drops_the_channel(served_app: Flask, google: Provider) -> None:
    calendar = _calendar(_project(), Platform.GOOGLE, google_refresh_token(google))
    assert jobs.sync_calendar(calendar.id, now=utcnow()).outcome == "success"
    google.control("revoke-user-grants", {"email": ALICE})
    assert jobs.sync_calendar(calendar.id, now=utcnow()).error_code == "token_revoked"
    assert _channels(calendar.id) == []


def test_microsoft_subscription_handshake_notifications_and_lifecycle(served_app: Flask, microsoft: Provider) -> None:
    calendar = _calendar(_project(), Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    now = utcnow()
    assert jobs.sync_calendar(calendar.id, now=now).outcome == "success"
    (channel,) = _channels(calendar.id)
    handshakes = [d for d in microsoft.deliveries() if d["kind"] == "graph.validation"]
    assert len(handshakes) == 2 and all(d["ok"] for d in handshakes)  # notification and lifecycle URLs
    assert channel.expires_at <= now + timedelta(minutes=4231)

    def calendar_requested() -> bool:
        return _wants_a_sync_soon(calendar.id)

    forged = {"value": [{"subscriptionId": channel.channel_id, "clientState": "forged", "changeType": "updated"}]}
    assert _post(served_app, "/push/microsoft", json=forged).status_code == 403
    assert not calendar_requested()
    # A real notification from the emulator, batched, with the right clientState.
    sent = microsoft.control("notify", {"subscription_id": channel.channel_id})["deliveries"]
    assert sent and all(d["status"] == 202 for d in sent)
    assert calendar_requested()

    microsoft.control("notify", {"subscription_id": channel.channel_id, "lifecycle_event": "reauthorizationRequired"})
    assert _channels(calendar.id)[0].expires_at <= utcnow()
    assert jobs.sync_calendar(calendar.id, now=utcnow()).outcome == "success"
    renewed = _channels(calendar.id)
    assert len(renewed) == 1 and renewed[0].channel_id == channel.channel_id  # renewed in place by PATCH
    assert renewed[0].expires_at > utcnow() + timedelta(hours=24)

    microsoft.control("notify", {"subscription_id": channel.channel_id, "lifecycle_event": "subscriptionRemoved"})
    assert _channels(calendar.id) == []
    assert jobs.sync_calendar(calendar.id, now=utcnow()).outcome == "success"
    assert len(_channels(calendar.id)) == 1


def test_without_public_base_url_push_is_off(served_app: Flask, google: Provider) -> None:
    served_app.config["PUBLIC_BASE_URL"] = ""
    calendar = _calendar(_project(), Platform.GOOGLE, google_refresh_token(google))
    assert jobs.sync_calendar(calendar.id, now=utcnow()).outcome == "success"
    assert _channels(calendar.id) == []
