"""Onboarding tests: the consent flow against the emulated providers, through the Flask test client
(the service's cookies are kept by the client; provider hops go over HTTP with ``requests``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from emulator.servers import RunningEmulators
from tests.emulation import ALICE, BOB, WORK_TID, Provider, http, query_of
from tests.live import CHROMIUM, CHROMIUM_ARGS, served
from webapp.connect import apps
from webapp.extensions import db
from webapp.models import Calendar, ConnectSession, Platform, Project

APP_CLIENT_ID = "onboarding-client.apps.example"
APP_CLIENT_SECRET = "onb/secret+value"
TEST_CLIENT_BASE = "http://localhost"
ALLOWED_ORIGIN = "https://app.example.com"


def callback_uris(base: str) -> list[str]:
    return [f"{base}/connect/callback/google", f"{base}/connect/callback/microsoft"]


def seed_app_client(provider: Provider, bases: list[str]) -> None:
    uris = [uri for base in bases for uri in callback_uris(base)]
    provider.control(
        "seed", {"clients": [{"client_id": APP_CLIENT_ID, "client_secret": APP_CLIENT_SECRET, "redirect_uris": uris}]}
    )


@dataclass
class Providers:
    google: Provider
    microsoft: Provider

    def of(self, platform: str) -> Provider:
        return self.google if platform == "google" else self.microsoft


@pytest.fixture
def providers(emulators: RunningEmulators) -> Providers:
    """Both emulators reset and seeded together (the shared fixtures each reset both providers)."""
    emulators.reset()
    google, microsoft = Provider(emulators.google_url), Provider(emulators.microsoft_url)
    google.control("seed", {"users": [{"email": ALICE, "name": "Alice Doe"}, {"email": BOB, "name": "Bob Roe"}]})
    microsoft.control(
        "seed",
        {
            "users": [
                {"email": ALICE, "name": "Alice Doe", "tid": WORK_TID, "oid": "00000000-0000-0000-0000-00000000a11c"},
                {"email": BOB, "name": "Bob Roe", "tid": WORK_TID},
            ]
        },
    )
    return Providers(google, microsoft)


@pytest.fixture
def flow_app(app: Flask, emulators: RunningEmulators, providers: Providers, project: Project) -> Flask:
    """The test app pointed at the emulators, with the project's own OAuth apps for both platforms."""
    app.config.update(emulators.settings())
    for provider in (providers.google, providers.microsoft):
        seed_app_client(provider, [TEST_CLIENT_BASE])
        provider.settings(auto_approve=True)
    for platform in Platform:
        apps.set_oauth_app(project=project, platform=platform, client_id=APP_CLIENT_ID, client_secret=APP_CLIENT_SECRET)
    apps.allow_redirect_origin(project=project, origin=ALLOWED_ORIGIN)
    return app


@dataclass
class Hop:
    """The provider's redirect back to the service, and the service's answer to it."""

    callback: str
    response: TestResponse


def new_session(client: FlaskClient, auth: dict[str, str], **fields: Any) -> tuple[str, str]:
    """(session id, connect path) of a new connect session."""
    response = client.post("/api/v1/connect_sessions", json=fields, headers=auth)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return body["id"], urlsplit(body["url"]).path


def token_of(path: str) -> str:
    return path.rstrip("/").split("/")[2]


def to_provider(client: FlaskClient, path: str, platform: str | None = None) -> str:
    """Open the connect page (choosing *platform* when the session leaves it open); the provider URL."""
    response = client.get(path)
    if response.status_code == 200:
        assert platform is not None
        response = client.post(f"{path}/start/{platform}")
    assert response.status_code == 302, response.get_data(as_text=True)
    return str(response.headers["Location"])


def back_from_provider(client: FlaskClient, provider_url: str, **consent: Any) -> Hop:
    """Follow the provider (auto-approve, or the consent form when *consent* is given) back to the callback."""
    if consent:
        params = query_of(provider_url)
        path = urlsplit(provider_url)
        answer = http("POST", f"{path.scheme}://{path.netloc}{path.path}", data={**params, **consent})
    else:
        answer = http("GET", provider_url)
    assert answer.status_code == 302, answer.text
    callback = str(answer.headers["Location"])
    assert callback.startswith(TEST_CLIENT_BASE + "/connect/callback/"), callback
    return Hop(callback, client.get(callback))


def connect(client: FlaskClient, path: str, platform: str | None = None, **consent: Any) -> Hop:
    return back_from_provider(client, to_provider(client, path, platform), **consent)


def calendars() -> list[Calendar]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Calendar)))


def session_row(object_id: str) -> ConnectSession:
    db.session.expire_all()
    row = db.session.scalar(db.select(ConnectSession).where(ConnectSession.object_id == object_id))
    assert row is not None
    return row


# The browser tests' fixtures (test_browser.py, test_popup.py).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def live(flow_app: Flask, providers: Providers) -> Iterator[str]:
    """The service on 127.0.0.1 in a thread; its callback URLs registered with the emulated clients."""
    with served(flow_app) as base:
        for provider in (providers.google, providers.microsoft):
            seed_app_client(provider, [base])
            provider.settings(auto_approve=False)  # the real consent pages
        yield base
