"""Syncing a Google calendar against the emulator: first sync, incremental changes, 410, failures."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.emulation import ALICE, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, Provider, fp
from tests.sync.conftest import MakeCalendar, at, google_refresh_token, seed_events
from tests.sync.conftest import stored_events as _events
from tests.sync.conftest import sync_now as _sync
from webapp.extensions import db, utcnow
from webapp.models import CalendarStateChange, Platform, SyncAttempt
from webapp.sync import dispatch, jobs


def test_first_sync_fills_platform_uuid_and_events(
    google: Provider, connect: MakeCalendar, client: FlaskClient, auth: dict[str, str]
) -> None:
    seed_events(
        google,
        [
            {
                "user": ALICE,
                "summary": "Standup",
                "start": at(2),
                "end": at(2.5),
                "hangout_link": "https://meet.google.com/abc-defg-hij",
            },
            {"user": ALICE, "summary": "Far future", "start": at(24 * 60), "end": at(24 * 60 + 1)},
            {
                "user": ALICE,
                "summary": "Zoom call",
                "start": at(5),
                "end": at(6),
                "location": "https://acme.zoom.us/j/123456789?pwd=abc",
            },
        ],
    )
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    assert calendar.platform_uuid is None
    result = _sync(calendar)
    assert result.outcome == "success" and result.created == 2
    assert calendar.platform_uuid == ALICE
    assert calendar.last_successful_sync_at is not None and calendar.last_attempted_sync_at is not None
    events = _events(calendar)
    assert set(events) == {"Standup", "Zoom call"}
    assert events["Standup"].meeting_url == "https://meet.google.com/abc-defg-hij"
    assert events["Zoom call"].meeting_url == "https://acme.zoom.us/j/123456789?pwd=abc"
    listed = client.get(f"/api/v1/calendar_events?calendar_id={calendar.object_id}", headers=auth).get_json()
    assert {e["name"] for e in listed["results"]} == {"Standup", "Zoom call"}
    api_calendar = client.get(f"/api/v1/calendars/{calendar.object_id}", headers=auth).get_json()
    assert api_calendar["platform_uuid"] == ALICE and api_calendar["state"] == "connected"


def test_refresh_never_sends_scope_and_keeps_the_token(google: Provider, connect: MakeCalendar) -> None:
    token = google_refresh_token(google)
    calendar = connect(Platform.GOOGLE, token)
    google.control("calls/clear")
    assert _sync(calendar).outcome == "success"
    refreshes = [c for c in google.calls("token") if c["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    assert "scope" not in refreshes[0]["form_keys"]
    assert refreshes[0]["refresh_token_fp"] == fp(token)


def test_incremental_sync_applies_adds_moves_and_cancels(google: Provider, connect: MakeCalendar) -> None:
    ids = seed_events(
        google,
        [
            {"user": ALICE, "summary": "Keep", "start": at(1), "end": at(2)},
            {"user": ALICE, "summary": "Move", "start": at(3), "end": at(4)},
            {"user": ALICE, "summary": "Cancel", "start": at(5), "end": at(6)},
        ],
    )
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    assert _sync(calendar).created == 3
    before = _events(calendar)
    keep_updated_at, move_start = before["Keep"].updated_at, before["Move"].start_time

    google.control("change-event", {"id": ids[1], "start": at(30), "end": at(31)})
    google.control("cancel-event", {"id": ids[2]})
    seed_events(google, [{"user": ALICE, "summary": "New", "start": at(7), "end": at(8)}])
    google.control("calls/clear")
    result = _sync(calendar)
    assert (result.created, result.updated, result.deleted) == (1, 1, 1)
    listing = google.calls("events_list")
    assert len(listing) == 1 and "syncToken" in listing[0]["query"]
    after = _events(calendar)
    assert after["Keep"].updated_at == keep_updated_at
    assert after["Move"].start_time > move_start
    assert after["Cancel"].is_deleted is True
    assert after["New"].is_deleted is False

    nothing = _sync(calendar)
    assert (nothing.created, nothing.updated, nothing.deleted) == (0, 0, 0)
    assert _events(calendar)["Keep"].updated_at == keep_updated_at


def test_gone_sync_token_leads_to_a_full_resync_without_duplicates(google: Provider, connect: MakeCalendar) -> None:
    seed_events(google, [{"user": ALICE, "summary": f"E{i}", "start": at(i + 1), "end": at(i + 2)} for i in range(3)])
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    assert _sync(calendar).created == 3
    google.control("fail", {"route": "events_list", "preset": "full_sync_required"})
    google.control("calls/clear")
    result = _sync(calendar)
    assert result.outcome == "success" and (result.created, result.updated, result.deleted) == (0, 0, 0)
    queries = [c["query"] for c in google.calls("events_list")]
    assert "syncToken" in queries[0] and "syncToken" not in queries[1] and "timeMin" in queries[1]
    assert len(_events(calendar)) == 3


def test_revoked_grant_disconnects_with_the_right_code(
    google: Provider, connect: MakeCalendar, client: FlaskClient, auth: dict[str, str]
) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    assert _sync(calendar).outcome == "success"
    google.control("revoke-user-grants", {"email": ALICE})
    result = _sync(calendar)
    assert result.outcome == "failure" and result.error_code == "token_revoked"
    body = client.get(f"/api/v1/calendars/{calendar.object_id}", headers=auth).get_json()
    assert body["state"] == "disconnected"
    failure = body["connection_failure_data"]
    assert failure["code"] == "token_revoked" and failure["action_required_by"] == "end_user"
    assert failure["retryable"] is False and failure["error"] and failure["timestamp"].endswith("Z")
    assert failure["provider_error"]["error"] == "invalid_grant"
    changes = db.session.scalars(select(CalendarStateChange).where(CalendarStateChange.calendar_id == calendar.id))
    assert [(c.from_state, c.to_state, c.code) for c in changes] == [("connected", "disconnected", "token_revoked")]
    # Disconnected calendars wait for new credentials: nothing is due.
    assert dispatch.claim_due(utcnow()) == []


def test_reconnect_by_patch_makes_it_connected_again(
    google: Provider, connect: MakeCalendar, client: FlaskClient, auth: dict[str, str]
) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    google.control("revoke-user-grants", {"email": ALICE})
    assert _sync(calendar).error_code == "token_revoked"
    patched = client.patch(
        f"/api/v1/calendars/{calendar.object_id}",
        json={"refresh_token": google_refresh_token(google)},
        headers=auth,
    )
    assert patched.status_code == 200 and patched.get_json()["id"] == calendar.object_id
    assert dispatch.claim_due(utcnow()) == [calendar.id]
    assert _sync(calendar).outcome == "success"
    body = client.get(f"/api/v1/calendars/{calendar.object_id}", headers=auth).get_json()
    assert body["state"] == "connected" and body["connection_failure_data"] is None
    changes = db.session.scalars(select(CalendarStateChange).where(CalendarStateChange.calendar_id == calendar.id))
    assert [c.to_state for c in changes] == ["disconnected", "connected"]


def test_rate_limit_with_permission_denied_status_keeps_the_calendar_connected(
    google: Provider, connect: MakeCalendar
) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    google.control("fail", {"route": "events_list", "preset": "rate_limit_permission_denied"})
    result = _sync(calendar)
    assert result.error_code == "rate_limited"
    assert calendar.state == "connected" and calendar.next_attempt_at is not None


def test_429_with_retry_after_is_honoured(google: Provider, connect: MakeCalendar) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    google.control("fail", {"route": "events_list", "status": 429, "headers": {"Retry-After": "7"}, "body": {}})
    now = utcnow()
    result = jobs.sync_calendar(calendar.id, now=now)
    db.session.expire_all()
    assert result.error_code == "rate_limited"
    assert calendar.state == "connected"
    assert calendar.next_attempt_at is not None
    assert 6.5 <= (calendar.next_attempt_at - now).total_seconds() <= 7.5
    # Not due before the wait is over, due after it.
    assert dispatch.claim_due(now) == []
    assert dispatch.claim_due(calendar.next_attempt_at) == [calendar.id]


def test_a_burst_of_5xx_is_retried_and_then_succeeds(google: Provider, connect: MakeCalendar) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    google.control("fail", {"route": "events_list", "preset": "backend_error", "times": 3})
    codes = [_sync(calendar).error_code for _ in range(3)]
    assert codes == ["provider_unavailable"] * 3
    assert calendar.state == "connected" and calendar.failure_count == 3
    assert _sync(calendar).outcome == "success"
    assert calendar.failure_count == 0 and calendar.next_attempt_at is None
    attempts = db.session.scalars(select(SyncAttempt.outcome).where(SyncAttempt.calendar_id == calendar.id)).all()
    assert attempts == ["failure", "failure", "failure", "success"]


def test_an_unreachable_provider_is_a_network_error_and_keeps_the_state(
    emulated_app: Flask, google: Provider, connect: MakeCalendar
) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    emulated_app.config["GOOGLE_TOKEN_URL"] = "http://127.0.0.2:9/token"  # nothing listens there
    result = _sync(calendar)
    assert result.error_code == "network_error"
    assert calendar.state == "connected" and calendar.next_attempt_at is not None


def test_a_calendar_being_synced_elsewhere_is_skipped(google: Provider, connect: MakeCalendar) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    now = utcnow()
    assert jobs._acquire_lease(calendar.id, now) is not None
    assert jobs.sync_calendar(calendar.id, now=now).outcome == "skipped"
    assert dispatch.claim_due(now) == []


def test_testing_mode_client_tokens_die_after_seven_days(
    google: Provider, connect: MakeCalendar, client: FlaskClient, auth: dict[str, str]
) -> None:
    google.control(
        "seed",
        {
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [REDIRECT_URI],
                    "testing_mode": True,
                }
            ]
        },
    )
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    assert _sync(calendar).outcome == "success"
    google.advance(7 * 24 * 3600 + 3600)
    result = jobs.sync_calendar(calendar.id, now=utcnow() + timedelta(days=7, hours=1))
    assert result.error_code == "token_expired_testing_mode"
    failure = client.get(f"/api/v1/calendars/{calendar.object_id}", headers=auth).get_json()["connection_failure_data"]
    assert failure["code"] == "token_expired_testing_mode" and failure["action_required_by"] == "integrator"
