"""Popup mode in real headless Chromium: an integrator's page uses ``static/connect.js`` to run the
consent flow in a popup and gets the outcome through ``postMessage``, sent only to the session's
redirect origin.

The integrator's pages are served by the test on loopback ports of their own (other origins than the
service's), one of them an allowed redirect origin of the project.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from tests.live import requires_chromium
from tests.onboarding.conftest import Providers, calendars, new_session
from tests.onboarding.test_browser import consent
from webapp.connect import apps
from webapp.models import Project

pytestmark = requires_chromium

INTEGRATOR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Integrator</title></head>
<body>
<button id="connect">Connect your calendar</button>
<output id="result"></output>
<script src="{service}/static/connect.js"></script>
<script>
  window.received = [];
  window.addEventListener("message", function (event) {{
    window.received.push({{origin: event.origin, data: event.data}});
  }});
  document.getElementById("connect").addEventListener("click", function () {{
    var url = new URLSearchParams(location.search).get("url");
    CalendarConnect.open(url).then(
      function (result) {{ document.getElementById("result").textContent = JSON.stringify({{ok: result}}); }},
      function (error) {{
        document.getElementById("result").textContent = JSON.stringify({{error: error.code, name: error.name}});
      }});
  }});
</script>
</body></html>
"""


@contextmanager
def integrator_site(service: str) -> Iterator[str]:
    """A small integrator site on 127.0.0.1 (its own port, so its own origin) using connect.js."""
    page = INTEGRATOR_PAGE.format(service=service).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def integrator(live: str, project: Project) -> Iterator[str]:
    """The integrator's site, an allowed redirect origin of the project."""
    with integrator_site(live) as origin:
        apps.allow_redirect_origin(project=project, origin=origin)
        yield origin


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 800, "height": 600})
    try:
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        yield tab
    finally:
        context.close()


def open_popup(page: Any, site: str, connect_url: str) -> Any:
    page.goto(f"{site}/settings?{urlencode({'url': connect_url})}")
    with page.expect_popup() as popup_info:
        page.get_by_role("button", name="Connect your calendar").click()
    popup = popup_info.value
    popup.set_default_timeout(10_000)
    return popup


def outcome(page: Any) -> dict[str, Any]:
    page.wait_for_function("document.getElementById('result').textContent !== ''")
    result: dict[str, Any] = json.loads(page.inner_text("#result"))
    return result


@pytest.mark.parametrize("platform", ["google", "microsoft"])
def test_the_popup_resolves_with_the_calendar(
    live: str,
    integrator: str,
    page: Any,
    client: FlaskClient,
    auth: dict[str, str],
    providers: Providers,
    platform: str,
) -> None:
    session_id, path = new_session(client, auth, redirect_url=f"{integrator}/calendar/done")
    popup = open_popup(page, integrator, live + path)
    label = "Continue with Google" if platform == "google" else "Sign in with Microsoft"  # each provider's wording
    popup.get_by_role("button", name=label).click()
    popup.wait_for_url(f"{providers.of(platform).base}/**")
    with popup.expect_event("close", timeout=30_000):  # the result page posts its message and closes itself
        consent(popup)
    (calendar,) = calendars()
    assert calendar.platform == platform
    assert outcome(page) == {"ok": {"calendar_id": calendar.object_id, "state": "connected", "status": "completed"}}
    received = page.evaluate("window.received")
    assert received == [
        {
            "origin": live,
            "data": {
                "type": "calendar-connect:result",
                "status": "completed",
                "state": "connected",
                "calendar_id": calendar.object_id,
                "code": None,
            },
        }
    ]
    assert page.url.startswith(f"{integrator}/settings")  # the integrator's page stayed where it was
    shown = client.get(f"/api/v1/connect_sessions/{session_id}", headers=auth).get_json()
    assert shown["status"] == "completed" and shown["calendar_id"] == calendar.object_id


def test_a_denied_consent_rejects_with_the_failure_code(
    live: str, integrator: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    _, path = new_session(client, auth, platform="google", redirect_url=f"{integrator}/calendar/done")
    popup = open_popup(page, integrator, live + path)
    popup.wait_for_url(f"{providers.google.base}/**")
    with popup.expect_event("close", timeout=30_000):
        consent(popup, allow=False)
    assert outcome(page) == {"error": "access_denied", "name": "CalendarConnectError"}
    assert calendars() == []


def test_a_page_of_another_origin_receives_nothing(
    live: str, integrator: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    """The session's redirect origin is the integrator's; a page elsewhere that opens its link gets no
    message (the result page never posts to "*"), only the popup closing."""
    _, path = new_session(client, auth, platform="google", redirect_url=f"{integrator}/calendar/done")
    with integrator_site(live) as elsewhere:
        popup = open_popup(page, elsewhere, live + path)
        popup.wait_for_url(f"{providers.google.base}/**")
        with popup.expect_event("close", timeout=30_000):
            consent(popup)
        assert outcome(page) == {"error": "popup_closed", "name": "CalendarConnectError"}
        assert page.evaluate("window.received") == []
    assert len(calendars()) == 1  # the end user did connect; only the other page learnt nothing


def test_without_an_opener_the_result_page_stays(
    live: str, integrator: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    """The redirect flow (popup blocked, mobile): the same result page, with its Continue link."""
    _, path = new_session(client, auth, platform="microsoft", redirect_url=f"{integrator}/calendar/done")
    page.goto(live + path)
    page.wait_for_url(f"{providers.microsoft.base}/**")
    consent(page)
    page.wait_for_url(f"{live}/connect/*/done")
    assert page.locator("script[data-target-origin]").get_attribute("data-target-origin") == integrator
    page.wait_for_timeout(300)
    assert not page.is_closed()
    page.get_by_role("link", name="Continue to Acme").click()
    page.wait_for_url(f"{integrator}/calendar/done?*state=connected*")
