"""Access tokens are reused while valid: a sync that changes nothing costs one provider call."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from tests.emulation import Provider
from tests.sync.conftest import MakeCalendar, google_refresh_token, microsoft_refresh_token
from tests.sync.conftest import sync_now as _sync
from webapp import crypto
from webapp.extensions import db, utcnow
from webapp.models import Calendar, Platform
from webapp.sync import jobs


def _token_calls(provider: Provider) -> list[dict[str, object]]:
    return [c for c in provider.calls("token") if c.get("grant_type") == "refresh_token"]


def test_a_no_change_sync_within_the_hour_is_one_call_with_the_stored_token(
    google: Provider, connect: MakeCalendar
) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    assert _sync(calendar).outcome == "success"
    assert calendar.access_token_ciphertext is not None and calendar.access_token_expires_at is not None
    assert crypto.decrypt(calendar.access_token_ciphertext) not in ("", None)
    google.control("calls/clear")
    result = _sync(calendar)
    assert result.outcome == "success" and result.provider_calls == 1
    assert _token_calls(google) == [] and len(google.calls()) == 1


def test_a_token_close_to_expiry_is_refreshed(microsoft: Provider, connect: MakeCalendar) -> None:
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    assert _sync(calendar).outcome == "success"
    expires = calendar.access_token_expires_at
    assert expires is not None
    microsoft.control("calls/clear")
    later = expires - jobs.ACCESS_TOKEN_MARGIN + timedelta(seconds=1)
    microsoft.advance((later - utcnow()).total_seconds())
    assert jobs.sync_calendar(calendar.id, now=later).outcome == "success"
    assert len(_token_calls(microsoft)) == 1


def test_a_refused_stored_token_is_refreshed_once_and_the_sync_goes_on(google: Provider, connect: MakeCalendar) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    assert _sync(calendar).outcome == "success"
    google.control("calls/clear")
    google.control("fail", {"route": "events_list", "status": 401, "times": 1, "body": {"error": {"code": 401}}})
    result = _sync(calendar)
    assert result.outcome == "success"
    assert len(_token_calls(google)) == 1


def test_new_credentials_drop_the_stored_access_token(
    google: Provider, connect: MakeCalendar, client: FlaskClient, auth: dict[str, str]
) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    assert _sync(calendar).outcome == "success"
    new_token = google_refresh_token(google)
    response = client.patch(f"/api/v1/calendars/{calendar.object_id}", json={"refresh_token": new_token}, headers=auth)
    assert response.status_code == 200
    db.session.expire_all()
    row = db.session.get(Calendar, calendar.id)
    assert row is not None and row.access_token_ciphertext is None and row.access_token_expires_at is None
    google.control("calls/clear")
    assert _sync(row).outcome == "success"
    assert [c["refresh_token_fp"] for c in _token_calls(google)]  # the new refresh token was used at once
