"""Syncing a Microsoft calendar against the emulator: delta rounds, rotation, sync reset, failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.emulation import ALICE, Provider, fp
from tests.sync.conftest import MakeCalendar, at, microsoft_refresh_token, seed_events
from tests.sync.conftest import stored_events as _events
from tests.sync.conftest import sync_now as _sync
from webapp import crypto
from webapp.extensions import db, utcnow
from webapp.models import Platform
from webapp.sync import jobs


def test_first_sync_and_incremental_delta(microsoft: Provider, connect: MakeCalendar) -> None:
    ids = seed_events(
        microsoft,
        [
            {"user": ALICE, "summary": "Keep", "start": at(1), "end": at(2)},
            {"user": ALICE, "summary": "Move", "start": at(3), "end": at(4)},
            {
                "user": ALICE,
                "summary": "Teams",
                "start": at(5),
                "end": at(6),
                "online_meeting_url": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
                "is_online_meeting": True,
            },
        ]
        + [{"user": ALICE, "summary": f"Filler {i}", "start": at(10 + i), "end": at(10.5 + i)} for i in range(12)],
    )
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    result = _sync(calendar)
    assert result.outcome == "success" and result.created == 15
    assert calendar.platform_uuid  # the default calendar's id
    assert calendar.sync_state and "delta_link" in calendar.sync_state
    events = _events(calendar)
    assert events["Teams"].meeting_url.startswith("https://teams.microsoft.com/l/meetup-join/")
    keep_updated_at = events["Keep"].updated_at

    microsoft.control("change-event", {"id": ids[1], "start": at(40), "end": at(41)})
    microsoft.control("cancel-event", {"id": ids[2]})
    microsoft.control("calls/clear")
    result = _sync(calendar)
    assert (result.created, result.updated, result.deleted) == (0, 1, 1)
    assert all(c["route"] == "delta" for c in microsoft.calls("delta"))
    assert "$deltatoken" in microsoft.calls("delta")[0]["path"] + str(microsoft.calls("delta")[0]["query"])
    after = _events(calendar)
    assert after["Teams"].is_deleted is True
    assert after["Keep"].updated_at == keep_updated_at
    assert len(after) == 15


@pytest.mark.parametrize("style", ["gone", "syncStateNotFound"])
def test_sync_reset_leads_to_a_full_resync(microsoft: Provider, connect: MakeCalendar, style: str) -> None:
    microsoft.settings(sync_reset_style=style)
    seed_events(
        microsoft, [{"user": ALICE, "summary": f"E{i}", "start": at(i + 1), "end": at(i + 2)} for i in range(3)]
    )
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    assert _sync(calendar).created == 3
    microsoft.control("expire-sync-tokens")
    result = _sync(calendar)
    assert result.outcome == "success" and (result.created, result.updated, result.deleted) == (0, 0, 0)
    assert len(_events(calendar)) == 3


def test_strict_rotation_over_many_syncs_always_uses_the_newest_token(
    microsoft: Provider, connect: MakeCalendar
) -> None:
    microsoft.settings(strict_rotation=True)
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    for _ in range(6):
        stored = crypto.decrypt(calendar.refresh_token_ciphertext)
        calendar.access_token_expires_at = utcnow()  # the last access token ran out: this sync refreshes
        db.session.commit()
        microsoft.control("calls/clear")
        assert _sync(calendar).outcome == "success"
        refresh = [c for c in microsoft.calls("token") if c["grant_type"] == "refresh_token"]
        assert [c["refresh_token_fp"] for c in refresh] == [fp(stored)]
        assert crypto.decrypt(calendar.refresh_token_ciphertext) != stored


def test_daily_refreshes_keep_the_connection_alive_past_ninety_days(microsoft: Provider, connect: MakeCalendar) -> None:
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    start = utcnow()
    for day in range(0, 100, 10):
        microsoft.advance(10 * 24 * 3600 if day else 0)
        assert jobs.sync_calendar(calendar.id, now=start + timedelta(days=day)).outcome == "success"
    db.session.expire_all()
    assert calendar.state == "connected"


@pytest.mark.parametrize(
    ("aadsts", "code", "acts"),
    [
        (50173, "token_revoked", "end_user"),
        (700082, "token_expired_inactivity", "end_user"),
        (50076, "mfa_required", "end_user"),
        (65001, "consent_required", "end_user"),
        (7000215, "client_secret_invalid", "integrator"),
        (700016, "client_misconfigured", "integrator"),
    ],
)
def test_token_errors_disconnect_with_their_taxonomy_code(
    microsoft: Provider, connect: MakeCalendar, aadsts: int, code: str, acts: str
) -> None:
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    microsoft.control("fail", {"route": "token", "aadsts": aadsts, "times": 2})
    assert _sync(calendar).error_code == code
    assert calendar.state == "disconnected"
    failure = calendar.connection_failure_data
    assert failure is not None
    assert failure["code"] == code and failure["action_required_by"] == acts
    assert aadsts in failure["provider_error_codes"]
    assert "refresh_token" not in str(failure).lower().replace("refresh token", "")


def test_access_denied_disconnects_only_after_confirmation(microsoft: Provider, connect: MakeCalendar) -> None:
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    start = utcnow()
    for minutes in (0, 30):
        microsoft.control("fail", {"route": "calendar", "preset": "access_denied"})
        assert (
            jobs.sync_calendar(calendar.id, now=start + timedelta(minutes=minutes)).error_code == "scope_insufficient"
        )
        db.session.expire_all()
        assert calendar.state == "connected"
    microsoft.control("fail", {"route": "calendar", "preset": "access_denied"})
    assert jobs.sync_calendar(calendar.id, now=start + timedelta(minutes=61)).error_code == "scope_insufficient"
    db.session.expire_all()
    assert calendar.state == "disconnected"
    assert calendar.connection_failure_data is not None
    assert calendar.connection_failure_data["attempts"] == 3


def test_graph_429_without_retry_after_backs_off(microsoft: Provider, connect: MakeCalendar) -> None:
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    microsoft.control("fail", {"route": "calendar", "preset": "throttled"})
    now = utcnow()
    assert jobs.sync_calendar(calendar.id, now=now).error_code == "rate_limited"
    db.session.expire_all()
    assert calendar.state == "connected"
    assert calendar.next_attempt_at is not None and calendar.next_attempt_at > now
