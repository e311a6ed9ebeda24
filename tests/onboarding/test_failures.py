"""Every way the flow can fail ends on a clear 4xx page, stores no calendar and can be retried."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.emulation import GOOGLE_CAL, query_of
from tests.onboarding.conftest import (
    Providers,
    back_from_provider,
    calendars,
    connect,
    new_session,
    session_row,
    to_provider,
)
from webapp.extensions import db, utcnow

GOOGLE_WITHOUT_CALENDAR = ["openid", "https://www.googleapis.com/auth/userinfo.email"]
MICROSOFT_WITHOUT_OFFLINE = [
    "openid",
    "email",
    "https://graph.microsoft.com/User.Read",
    "https://graph.microsoft.com/Calendars.Read",
]
MICROSOFT_WITHOUT_CALENDAR = ["openid", "email", "offline_access", "https://graph.microsoft.com/User.Read"]


def assert_failure_page(response: Any, status: int, title: str, *, retry: bool) -> str:
    html: str = response.get_data(as_text=True)
    assert response.status_code == status, html
    assert title in html
    assert "Traceback" not in html and "Error ID" not in html
    assert ('id="try-again"' in html) is retry
    assert response.headers["Referrer-Policy"] == "no-referrer"
    return html


@pytest.mark.parametrize(
    ("platform", "consent", "code", "title"),
    [
        ("google", {"decision": "deny"}, "access_denied", "Access was not granted"),
        ("microsoft", {"decision": "deny"}, "access_denied", "Access was not granted"),
        ("google", {"decision": "allow", "grant_scope": GOOGLE_WITHOUT_CALENDAR}, "scope_insufficient", "Calendar"),
        ("microsoft", {"decision": "allow", "grant_scope": MICROSOFT_WITHOUT_CALENDAR}, "scope_insufficient", "Cal"),
        ("microsoft", {"decision": "allow", "grant_scope": MICROSOFT_WITHOUT_OFFLINE}, "credentials_missing", "Last"),
    ],
)
def test_consent_page_answers_that_create_nothing(
    flow_app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    providers: Providers,
    platform: str,
    consent: dict[str, Any],
    code: str,
    title: str,
) -> None:
    providers.of(platform).settings(auto_approve=False)
    session_id, path = new_session(client, auth, platform=platform)
    provider_url = to_provider(client, path)
    hop = back_from_provider(client, provider_url, account="alice@example.com", **consent)
    assert_failure_page(hop.response, 400, title, retry=True)
    assert calendars() == []
    row = session_row(session_id)
    assert row.status == "failed" and row.error_code == code
    status = client.get(f"/api/v1/connect_sessions/{session_id}", headers=auth).get_json()
    assert status["status"] == "failed" and status["error_code"] == code

    # Try again works: the same link, a new attempt, this time allowed.
    providers.of(platform).settings(auto_approve=True)
    retry = connect(client, path)
    assert retry.response.status_code == 303
    assert len(calendars()) == 1 and session_row(session_id).status == "completed"


def test_google_without_a_refresh_token_creates_nothing(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    body = {"access_token": "ya29.x", "expires_in": 3599, "scope": f"openid {GOOGLE_CAL}", "token_type": "Bearer"}
    providers.google.control("fail", {"route": "token", "status": 200, "body": body})
    session_id, path = new_session(client, auth, platform="google")
    assert_failure_page(connect(client, path).response, 400, "Lasting access was not granted", retry=True)
    assert calendars() == [] and session_row(session_id).error_code == "credentials_missing"


@pytest.mark.parametrize(
    ("platform", "failure", "code", "title"),
    [
        ("google", {"status": 400, "body": {"error": "invalid_grant", "error_description": "Bad Request"}},
         "code_redemption_failed", "already used"),
        ("microsoft", {"aadsts": 54005}, "code_redemption_failed", "already used"),
        ("google", {"status": 503, "body": "<html>down</html>"}, "provider_unavailable", "not available"),
        ("microsoft", {"preset": "temporarily_unavailable"}, "provider_unavailable", "not available"),
        ("microsoft", {"aadsts": 7000215}, "client_secret_invalid", "not set up correctly"),
    ],
)  # fmt: skip
def test_token_endpoint_failures(
    flow_app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    providers: Providers,
    platform: str,
    failure: dict[str, Any],
    code: str,
    title: str,
) -> None:
    providers.of(platform).control("fail", {"route": "token", **failure})
    session_id, path = new_session(client, auth, platform=platform)
    html = assert_failure_page(connect(client, path).response, 400, title, retry=True)
    assert code in html
    assert calendars() == [] and session_row(session_id).error_code == code


def test_provider_connection_refused(flow_app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    flow_app.config["GOOGLE_TOKEN_URL"] = "http://127.0.0.1:9/token"  # nothing listens on port 9
    session_id, path = new_session(client, auth, platform="google")
    assert_failure_page(connect(client, path).response, 400, "could not be reached", retry=True)
    assert calendars() == [] and session_row(session_id).error_code == "network_error"


def test_state_mismatch_when_the_cookie_is_lost(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    _, path = new_session(client, auth, platform="google")
    provider_url = to_provider(client, path)
    other_browser = flow_app.test_client()  # no session cookie: blocked cookie, other host
    hop = back_from_provider(other_browser, provider_url)
    assert_failure_page(hop.response, 400, "could not be verified", retry=False)
    # A forged or stale state in the right browser: same page, and "Try again" for this session.
    forged = client.get(f"/connect/callback/google?code=x&state={query_of(provider_url)['state']}x")
    assert_failure_page(forged, 400, "could not be verified", retry=False)
    assert calendars() == []
    assert not providers.google.calls(route="token")


def test_expired_unknown_and_used_links(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    session_id, path = new_session(client, auth)
    row = session_row(session_id)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert_failure_page(client.get(path), 410, "expired", retry=False)
    assert client.get(f"/api/v1/connect_sessions/{session_id}", headers=auth).get_json()["status"] == "expired"
    assert_failure_page(client.post(f"{path}/start/google"), 410, "expired", retry=False)

    assert_failure_page(client.get("/connect/not-a-token"), 404, "not valid", retry=False)

    _, path = new_session(client, auth, platform="google")
    connect(client, path)
    html = assert_failure_page(client.get(path), 410, "already used", retry=False)
    assert "See the connection" in html
    assert len(calendars()) == 1


def test_expiry_during_consent_fails_at_the_callback(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    session_id, path = new_session(client, auth, platform="microsoft")
    provider_url = to_provider(client, path)
    row = session_row(session_id)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert_failure_page(back_from_provider(client, provider_url).response, 410, "expired", retry=False)
    assert calendars() == []
    assert not providers.microsoft.calls(route="token")


def test_admin_consent_required_on_the_redirect_back(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    session_id, path = new_session(client, auth, platform="microsoft")
    state = query_of(to_provider(client, path))["state"]
    response = client.get(
        f"/connect/callback/microsoft?error=access_denied&state={state}"
        "&error_description=AADSTS90094%3A+Admin+approval+required"
    )
    assert_failure_page(response, 400, "administrator must approve", retry=True)
    assert session_row(session_id).error_code == "admin_consent_required"


def test_platform_without_an_oauth_app(flow_app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    from webapp.models import OAuthApp

    db.session.execute(db.delete(OAuthApp).where(OAuthApp.platform == "microsoft"))
    db.session.commit()
    _, path = new_session(client, auth)
    html = client.get(path).get_data(as_text=True)
    assert "Continue with Google" in html and "Sign in with Microsoft" not in html
    assert_failure_page(client.post(f"{path}/start/microsoft"), 400, "not set up correctly", retry=True)
    assert_failure_page(client.post(f"{path}/start/yahoo"), 404, "not available", retry=True)
