"""Emulated providers for tests: both on 127.0.0.2 / 127.0.0.3 (free ports), reset before each test,
and a notification receiver on 127.0.0.2 that records what the emulator sends."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from emulator.servers import QuietRequestHandler, RunningEmulators, start_emulators

CLIENT_ID = "client-1.apps.example"
CLIENT_SECRET = "s3cret/with+chars"
REDIRECT_URI = "http://127.0.0.1:5000/oauth/callback"
ALICE = "alice@example.com"
BOB = "bob@example.org"
WORK_TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
GOOGLE_CAL = "https://www.googleapis.com/auth/calendar.readonly"


def http(method: str, url: str, **kwargs: Any) -> requests.Response:
    """One request, body read and connection closed (pytest turns ResourceWarnings into errors)."""
    kwargs.setdefault("allow_redirects", False)
    kwargs.setdefault("timeout", 15)
    with requests.request(method, url, **kwargs) as response:
        _ = response.content
    return response


def fp(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class Provider:
    """A live emulated provider: its base URL and its control API."""

    def __init__(self, base: str) -> None:
        self.base = base

    def control(self, name: str, payload: dict[str, Any] | None = None, expect: int = 200) -> Any:
        response = http("POST", f"{self.base}/__emulator__/{name}", json=payload or {})
        assert response.status_code == expect, response.text
        return response.json()

    def calls(self, route: str | None = None) -> list[dict[str, Any]]:
        params = {"route": route} if route else {}
        response = http("GET", f"{self.base}/__emulator__/calls", params=params)
        return list(response.json()["calls"])

    def deliveries(self) -> list[dict[str, Any]]:
        return list(http("GET", f"{self.base}/__emulator__/deliveries").json()["deliveries"])

    def settings(self, **values: Any) -> dict[str, Any]:
        return dict(self.control("settings", values))

    def advance(self, seconds: float) -> None:
        self.control("clock/advance", {"seconds": seconds})

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else self.base + path
        return http("GET", url, headers=headers, **kwargs)

    def send(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return http(method, self.base + path, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def emulators() -> Iterator[RunningEmulators]:
    running = start_emulators()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def google(emulators: RunningEmulators) -> Provider:
    emulators.reset()
    provider = Provider(emulators.google_url)
    provider.control(
        "seed",
        {
            "users": [{"email": ALICE, "name": "Alice Doe"}, {"email": BOB, "name": "Bob Roe"}],
            "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]}],
        },
    )
    return provider


@pytest.fixture
def microsoft(emulators: RunningEmulators) -> Provider:
    emulators.reset()
    provider = Provider(emulators.microsoft_url)
    provider.control(
        "seed",
        {
            "users": [
                {"email": ALICE, "name": "Alice Doe", "tid": WORK_TID, "oid": "00000000-0000-0000-0000-00000000a11c"},
                {"email": "carol@outlook.com", "name": "Carol"},
            ],
            "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]}],
        },
    )
    return provider


class Receiver:
    """Records notifications; answers Graph validation requests as ``mode`` says."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.mode = "echo"  # echo | wrong | html | error
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.server = make_server("127.0.0.2", 0, self.app, threaded=True, request_handler=QuietRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.2:{self.server.server_port}"

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        token = req.args.get("validationToken")
        if token is not None:
            response = {
                "echo": Response(token, mimetype="text/plain"),
                "wrong": Response("not the token", mimetype="text/plain"),
                "html": Response(token, mimetype="text/html"),
                "error": Response("no", status=500),
            }[self.mode]
            with self.lock:
                self.requests.append({"path": req.path, "validation": token})
            return response(environ, start_response)
        with self.arrived:
            self.requests.append({"path": req.path, "headers": dict(req.headers), "body": req.get_data(as_text=True)})
            self.arrived.notify_all()
        return Response(status=202)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.notifications()) >= count, timeout=timeout)
            return self.notifications()

    def notifications(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "validation" not in r]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    try:
        yield rec
    finally:
        rec.stop()
