"""The dashboard in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``CI`` set) it always runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from tests.dashboard.conftest import ADMIN_EMAIL, PASSWORD, disconnect, synced
from tests.live import CHROMIUM, CHROMIUM_ARGS, assert_accessible, requires_chromium, served
from webapp.extensions import db, utcnow
from webapp.models import AdminUser, ConnectSession

pytestmark = requires_chromium


@pytest.fixture
def live(app: Flask) -> Iterator[str]:
    """The service on 127.0.0.1 in a thread, with CSRF protection on as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    with served(app) as base:
        yield base


@pytest.fixture
def page(live: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 800})  # phone width
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live)
        try:
            tab = context.new_page()
            tab.set_default_timeout(10_000)
            yield tab
        finally:
            context.close()
            browser.close()


def test_find_a_disconnected_calendar_and_copy_its_reconnect_link(
    live: str, page: Any, admin: AdminUser, make_calendar: Any
) -> None:
    make_calendar(deduplication_key="healthy-user")
    broken = make_calendar(deduplication_key="broken-user", platform_uuid="broken@example.com")
    disconnect(broken["id"], "token_revoked")

    page.goto(live + "/dashboard/")
    page.wait_for_url("**/dashboard/login**")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Acme").click()
    page.get_by_role("link", name="Calendars").click()

    page.select_option("#filter-state", "disconnected")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**state=disconnected**")
    links = page.locator("a.calendar-link")
    assert links.count() == 1
    assert links.first.inner_text() == "broken@example.com"
    links.first.click()

    assert "Why it is disconnected" in page.inner_text("main")
    assert page.inner_text("#who-must-act") == "End user"
    page.get_by_role("button", name="Get a reconnect link").click()
    field = page.locator("#reconnect-url")
    url = field.input_value()
    assert url.startswith(live + "/connect/")
    page.get_by_role("button", name="Copy").click()
    page.wait_for_selector("button[data-copied=true]")
    assert page.evaluate("navigator.clipboard.readText()") == url

    db.session.expire_all()
    (connect,) = db.session.scalars(db.select(ConnectSession))
    assert connect.calendar is not None and connect.calendar.object_id == broken["id"]


def test_every_dashboard_page_passes_axe(live: str, page: Any, admin: AdminUser, make_calendar: Any) -> None:
    healthy = make_calendar(deduplication_key="healthy-user")
    synced(healthy["id"], utcnow() - timedelta(hours=1))
    broken = make_calendar(deduplication_key="broken-user", platform_uuid="broken@example.com")
    disconnect(broken["id"], "token_revoked")
    disconnect(make_calendar(deduplication_key="secret-user", platform="microsoft")["id"], "client_secret_invalid")

    page.goto(live + "/dashboard/login")
    assert_accessible(page, "login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert_accessible(page, "login (refused)")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert_accessible(page, "projects")
    page.get_by_role("link", name="Acme").click()
    assert_accessible(page, "overview")
    for name in ("Calendars", "Failures", "Settings"):
        page.get_by_role("link", name=name, exact=True).first.click()
        assert_accessible(page, name)
    page.goto(page.url.split("/settings")[0] + "/calendars?state=disconnected&q=broken")
    assert_accessible(page, "calendars (filtered)")
    page.locator("a.calendar-link").first.click()
    assert_accessible(page, "calendar (disconnected)")
    page.get_by_role("button", name="Get a reconnect link").click()
    assert_accessible(page, "calendar (reconnect link)")
    page.get_by_role("link", name="Delete…").click()
    assert_accessible(page, "confirm delete")
    page.get_by_role("link", name="Settings", exact=True).click()
    page.fill("#branding-accent-color", "#12345")
    page.fill("#branding-logo-url", "http://cdn.example.com/logo.png")
    page.get_by_role("button", name="Save the branding").click()
    assert "#rrggbb" in page.inner_text("#branding")
    assert_accessible(page, "settings (field errors)")
