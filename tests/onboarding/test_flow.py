"""The consent flow end to end against the emulators (auto-approve), through the test client."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.emulation import ALICE, BOB, GOOGLE_CAL, query_of
from tests.onboarding.conftest import (
    ALLOWED_ORIGIN,
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    Providers,
    back_from_provider,
    calendars,
    connect,
    new_session,
    session_row,
    to_provider,
    token_of,
)
from webapp import crypto
from webapp.extensions import db
from webapp.models import CalendarState, CalendarStateChange, ConnectSession
from webapp.onboarding import flow

GOOGLE_GRANTED = ["openid", "https://www.googleapis.com/auth/userinfo.email", GOOGLE_CAL]


def test_google_flow_creates_the_calendar_through_the_api_create_logic(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers, make_calendar: Any
) -> None:
    session_id, path = new_session(
        client,
        auth,
        metadata={"user": "42"},
        deduplication_key="user-42",
        redirect_url=f"{ALLOWED_ORIGIN}/settings?tab=calendar",
    )
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Acme" in html and "Continue with Google" in html and 'name="csrf_token"' in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"

    provider_url = to_provider(client, path, "google")
    params = query_of(provider_url)
    assert params["client_id"] == APP_CLIENT_ID
    assert params["access_type"] == "offline" and params["prompt"] == "consent"
    assert params["include_granted_scopes"] == "true"
    assert params["code_challenge_method"] == "S256" and params["code_challenge"] and params["nonce"]
    assert params["redirect_uri"] == "http://localhost/connect/callback/google"
    assert GOOGLE_CAL in params["scope"].split()

    hop = back_from_provider(client, provider_url)
    assert hop.response.status_code == 303
    done = client.get(hop.response.headers["Location"])
    html = done.get_data(as_text=True)
    assert done.status_code == 200
    assert ALICE in html and "connected" in html and "Reconnect" not in html

    (calendar,) = calendars()
    assert calendar.platform == "google" and calendar.client_id == APP_CLIENT_ID
    assert calendar.meta == {"user": "42"} and calendar.deduplication_key == "user-42"
    assert crypto.decrypt(calendar.client_secret_ciphertext) == APP_CLIENT_SECRET
    assert crypto.decrypt(calendar.refresh_token_ciphertext).startswith("1//")
    assert calendar.next_sync_at is not None

    # The Continue button returns to the integrator with the calendar, its state and the session.
    continue_href = html.split('id="continue"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    continued = urlsplit(continue_href)
    assert f"{continued.scheme}://{continued.netloc}" == ALLOWED_ORIGIN
    assert parse_qs(continued.query) == {
        "tab": ["calendar"],
        "calendar_id": [calendar.object_id],
        "state": ["connected"],
        "session_id": [session_id],
    }

    status = client.get(f"/api/v1/connect_sessions/{session_id}", headers=auth).get_json()
    assert status["status"] == "completed" and status["calendar_id"] == calendar.object_id
    assert status["used_at"] is not None and status["error_code"] is None and status["platform"] == "google"

    # Identical in shape to a calendar made by POST /api/v1/calendars.
    via_flow = client.get(f"/api/v1/calendars/{calendar.object_id}", headers=auth).get_json()
    via_api = make_calendar(deduplication_key="other")
    assert list(via_flow) == list(via_api)


def test_microsoft_flow_with_fixed_platform_skips_the_choice(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    providers.microsoft.settings(mail_null=True)  # /me without mail: userPrincipalName is used
    session_id, path = new_session(client, auth, platform="microsoft")
    first = client.get(path)
    assert first.status_code == 302
    provider_url = str(first.headers["Location"])
    assert provider_url.startswith(providers.microsoft.base + "/common/oauth2/v2.0/authorize")
    params = query_of(provider_url)
    assert params["scope"].split() == ["openid", "email", "offline_access", "User.Read", "Calendars.Read"]
    assert params["code_challenge_method"] == "S256"
    hop = back_from_provider(client, provider_url)
    assert hop.response.status_code == 303
    done = client.get(hop.response.headers["Location"])
    assert done.status_code == 200 and ALICE in done.get_data(as_text=True)
    (calendar,) = calendars()
    assert calendar.platform == "microsoft"
    assert crypto.decrypt(calendar.refresh_token_ciphertext).startswith("M.C5")
    assert session_row(session_id).account_email == ALICE


def test_a_second_hit_of_the_same_callback_does_not_redeem_the_code_again(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    for platform in ("google", "microsoft"):
        provider = providers.of(platform)
        _, path = new_session(client, auth, platform=platform, deduplication_key=f"key-{platform}")
        hop = connect(client, path)
        assert hop.response.status_code == 303
        again = client.get(hop.callback)  # back button / double click
        assert again.status_code == 303
        assert again.headers["Location"] == hop.response.headers["Location"]
        redemptions = [c for c in provider.calls(route="token") if c["grant_type"] == "authorization_code"]
        assert len(redemptions) == 1
    assert len(calendars()) == 2


def test_reconnect_from_the_status_page_keeps_the_id_and_stores_the_new_token(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    _, path = new_session(client, auth, platform="google")
    hop = connect(client, path)
    done_url = hop.response.headers["Location"]
    (calendar,) = calendars()
    old_token = crypto.decrypt(calendar.refresh_token_ciphertext)
    # Connected: no Reconnect button, and posting to it changes nothing.
    assert "Reconnect" not in client.get(done_url).get_data(as_text=True)
    calendar.state = CalendarState.DISCONNECTED.value
    db.session.commit()
    page = client.get(done_url).get_data(as_text=True)
    assert "disconnected" in page and "Reconnect" in page

    again = client.post(f"{urlsplit(path).path}/reconnect")
    assert again.status_code == 303
    new_path = urlsplit(again.headers["Location"]).path
    assert new_path != path
    provider_url = to_provider(client, new_path)
    assert query_of(provider_url)["login_hint"] == ALICE
    hop = back_from_provider(client, provider_url)
    assert hop.response.status_code == 303

    (same,) = calendars()
    assert same.object_id == calendar.object_id
    new_token = crypto.decrypt(same.refresh_token_ciphertext)
    assert new_token != old_token and new_token.startswith("1//")
    # The old token was not revoked (providers.md 1.7).
    assert not providers.google.calls(route="revoke")
    row = db.session.scalar(
        db.select(ConnectSession).where(ConnectSession.token_hash == ConnectSession.hash_token(token_of(new_path)))
    )
    assert row is not None and row.result_calendar_id == same.id and row.status == "completed"


def test_reconnect_by_calendar_id_or_deduplication_key_updates_in_place(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    _, path = new_session(client, auth, platform="microsoft", deduplication_key="user-7", metadata={"a": "1"})
    connect(client, path)
    (calendar,) = calendars()
    first_token = crypto.decrypt(calendar.refresh_token_ciphertext)

    session_id, path = new_session(client, auth, calendar_id=calendar.object_id)
    assert session_row(session_id).platform == "microsoft"
    assert connect(client, path).response.status_code == 303
    (same,) = calendars()
    second_token = crypto.decrypt(same.refresh_token_ciphertext)
    assert same.object_id == calendar.object_id and second_token != first_token
    assert same.meta == {"a": "1"}  # a reconnect without metadata keeps it

    _, path = new_session(client, auth, deduplication_key="user-7", metadata={"a": "2"})
    assert connect(client, path, "microsoft").response.status_code == 303
    (same,) = calendars()
    assert same.object_id == calendar.object_id and same.meta == {"a": "2"}
    assert crypto.decrypt(same.refresh_token_ciphertext) not in (first_token, second_token)


def test_reconnect_with_another_account_is_refused(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    _, path = new_session(client, auth, platform="google")
    connect(client, path)
    (calendar,) = calendars()
    before = calendar.refresh_token_ciphertext
    _, path = new_session(client, auth, calendar_id=calendar.object_id)
    providers.google.settings(auto_approve=False)
    provider_url = to_provider(client, path)
    hop = back_from_provider(client, provider_url, account=BOB, grant_scope=GOOGLE_GRANTED, decision="allow")
    assert hop.response.status_code == 400
    assert "different account" in hop.response.get_data(as_text=True)
    (same,) = calendars()
    assert same.refresh_token_ciphertext == before


def _continue_query(html: str) -> dict[str, list[str]]:
    href = html.split('id="continue"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    return parse_qs(urlsplit(href).query)


@pytest.mark.parametrize("platform", ["google", "microsoft"])
@pytest.mark.parametrize("door", ["status_page", "calendar_id"])
def test_a_reconnect_shows_connected_and_continues_with_state_connected(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers, platform: str, door: str
) -> None:
    """Issue 18: the page right after consent and the Continue link carry the state just achieved."""
    redirect_url = f"{ALLOWED_ORIGIN}/done"
    _, path = new_session(client, auth, platform=platform, redirect_url=redirect_url)
    done_url = connect(client, path).response.headers["Location"]
    (calendar,) = calendars()
    calendar.state = CalendarState.DISCONNECTED.value
    calendar.connection_failure_data = {"error": "revoked", "code": "token_revoked"}
    db.session.commit()
    if door == "status_page":
        again = client.post(f"{path}/reconnect")
        assert again.status_code == 303
        new_path = urlsplit(again.headers["Location"]).path
    else:
        _, new_path = new_session(client, auth, calendar_id=calendar.object_id, redirect_url=redirect_url)
    hop = connect(client, new_path)
    assert hop.response.status_code == 303
    assert hop.response.headers["Location"] != done_url
    html = client.get(hop.response.headers["Location"]).get_data(as_text=True)
    assert "Your calendar is connected" in html and "disconnected" not in html and "Reconnect" not in html
    query = _continue_query(html)
    assert query["state"] == ["connected"] and query["calendar_id"] == [calendar.object_id]

    api = client.get(f"/api/v1/calendars/{calendar.object_id}", headers=auth).get_json()
    assert api["state"] == "connected" and api["connection_failure_data"] is None
    change = db.session.scalars(
        db.select(CalendarStateChange).where(CalendarStateChange.calendar_id == calendar.id)
    ).all()[-1]
    assert (change.from_state, change.to_state) == ("disconnected", "connected")


@pytest.mark.parametrize("reconnect", [False, True])
def test_the_calendar_and_the_session_completion_commit_together(
    flow_app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    providers: Providers,
    monkeypatch: pytest.MonkeyPatch,
    reconnect: bool,
) -> None:
    """A failure between storing the calendar and completing the session leaves neither behind."""
    before = None
    fields: dict[str, Any] = {"platform": "google"}
    if reconnect:
        _, path = new_session(client, auth, platform="google")
        connect(client, path)
        (calendar,) = calendars()
        before = calendar.refresh_token_ciphertext
        fields = {"calendar_id": calendar.object_id}
    session_id, path = new_session(client, auth, **fields)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("crash before the commit")

    monkeypatch.setattr(flow, "_complete", broken)
    provider_url = to_provider(client, path)
    assert back_from_provider(client, provider_url).response.status_code == 500
    db.session.rollback()
    if reconnect:
        (same,) = calendars()
        assert same.refresh_token_ciphertext == before
    else:
        assert calendars() == []
    assert session_row(session_id).status != "completed"
