"""The consent flow in real headless Chromium (Debian's ``chromium``, driven by Playwright).

The service runs on 127.0.0.1 and the emulated providers on 127.0.0.2 / 127.0.0.3, so the provider is
cross-site for cookies as in production (``SameSite=Lax`` must carry the session back to the callback).
Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``CI`` set) these tests always run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.emulation import ALICE
from tests.live import assert_accessible, requires_chromium
from tests.onboarding.conftest import Providers, calendars, new_session
from webapp.extensions import db, utcnow
from webapp.models import CalendarState
from webapp.projects import branding

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "status-page.png"
BRANDED_SCREENSHOT = SCREENSHOT.with_name("choose-page-branded.png")

pytestmark = requires_chromium


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 420, "height": 560})
    try:
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        yield tab
    finally:
        context.close()


def consent(page: Any, account: str = ALICE, *, allow: bool = True) -> None:
    """On the emulator's consent page: pick the account, keep every scope ticked, Allow (or Deny)."""
    page.get_by_label(account, exact=False).check()
    page.get_by_role("button", name="Allow" if allow else "Deny").click()


def test_connect_google_in_the_browser(
    live: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers, tmp_path: Path
) -> None:
    _, path = new_session(client, auth, metadata={"user": "42"}, redirect_url="https://app.example.com/settings")
    page.goto(live + path)
    assert "Acme" in page.inner_text("main")
    page.get_by_role("button", name="Continue with Google").click()
    page.wait_for_url(f"{providers.google.base}/**")
    consent(page)
    page.wait_for_url(f"{live}/connect/*/done")
    assert page.inner_text("h1") == "Your calendar is connected"
    assert ALICE in page.inner_text("main")
    (calendar,) = calendars()
    assert calendar.platform == "google" and calendar.meta == {"user": "42"}

    # The README's screenshot: a calendar synced a few minutes ago.
    calendar.last_successful_sync_at = utcnow() - timedelta(minutes=3)
    db.session.commit()
    page.reload()
    assert "3 minutes ago" in page.inner_text("main")
    # Refreshing the README's picture is opt-in, so a test run never changes tracked files.
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path / "status-page.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 1000


def test_connect_microsoft_in_the_browser(
    live: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    _, path = new_session(client, auth, platform="microsoft")
    page.goto(live + path)  # the platform is fixed: straight to the consent page
    page.wait_for_url(f"{providers.microsoft.base}/**")
    consent(page)
    page.wait_for_url(f"{live}/connect/*/done")
    assert page.inner_text("h1") == "Your calendar is connected"
    (calendar,) = calendars()
    assert calendar.platform == "microsoft"


def test_deny_then_try_again_in_the_browser(
    live: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    _, path = new_session(client, auth)
    page.goto(live + path)
    page.get_by_role("button", name="Continue with Google").click()
    page.wait_for_url(f"{providers.google.base}/**")
    consent(page, allow=False)
    page.wait_for_url(f"{live}/connect/callback/google*")
    assert page.inner_text("h1") == "Access was not granted"
    assert calendars() == []
    page.get_by_role("link", name="Try again").click()
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.wait_for_url(f"{providers.microsoft.base}/**")
    consent(page)
    page.wait_for_url(f"{live}/connect/*/done")
    assert len(calendars()) == 1


def test_reconnect_in_the_browser_keeps_the_calendar(
    live: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    _, path = new_session(client, auth, platform="google")
    page.goto(live + path)
    consent(page)
    page.wait_for_url(f"{live}/connect/*/done")
    (calendar,) = calendars()
    calendar.state = CalendarState.DISCONNECTED.value
    db.session.commit()
    page.reload()
    assert page.inner_text("h1") == "Your calendar is disconnected"
    page.get_by_role("button", name="Reconnect").click()
    page.wait_for_url(f"{providers.google.base}/**")
    assert page.get_by_label(ALICE, exact=False).is_checked()  # login_hint preselects the account
    consent(page)
    page.wait_for_url(f"{live}/connect/*/done")
    (same,) = calendars()
    assert same.object_id == calendar.object_id
    assert same.refresh_token_issued_at is not None and same.refresh_token_issued_at > calendar.created_at


# --- accessibility (axe-core) and the keyboard ------------------------------------------------------


BRANDED = {
    "display_name": "Acme Calendar",
    "accent_color": "#7b1fa2",
    "support_url": "https://acme.example/help",
    "privacy_url": "https://acme.example/privacy",
    "terms_url": "https://acme.example/terms",
}


@pytest.mark.parametrize("branded", [False, True])
def test_every_end_user_page_passes_axe(
    live: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers, project: Any, branded: bool
) -> None:
    if branded:
        branding.set_branding(project=project, changes=BRANDED)
    _, path = new_session(client, auth, redirect_url="https://app.example.com/done")
    page.goto(live + path)
    assert_accessible(page, "choose")
    page.get_by_role("button", name="Continue with Google").click()
    page.wait_for_url(f"{providers.google.base}/**")
    consent(page, allow=False)
    page.wait_for_url(f"{live}/connect/callback/google*")
    assert_accessible(page, "failure (access denied)")
    page.get_by_role("link", name="Try again").click()
    page.get_by_role("button", name="Sign in with Microsoft").click()
    consent(page)
    page.wait_for_url(f"{live}/connect/*/done")
    assert_accessible(page, "status (connected)")
    (calendar,) = calendars()
    calendar.state = CalendarState.DISCONNECTED.value
    db.session.commit()
    page.reload()
    assert_accessible(page, "status (disconnected)")
    page.goto(live + path)
    assert page.inner_text("h1") == "This link was already used"
    assert_accessible(page, "failure (link used)")
    page.goto(live + "/connect/not-a-real-token")
    assert_accessible(page, "failure (unknown link)")


def test_the_consent_flow_with_the_keyboard_alone(
    live: str, page: Any, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    """Tab and Enter only: choose Google, pick the account and Allow on the emulator's page, come back."""
    _, path = new_session(client, auth, redirect_url="https://app.example.com/done")
    page.goto(live + path)

    def tab_to(predicate: str, limit: int = 25) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({predicate}); }})()"):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    tab_to("el.id === 'connect-google'")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible
    page.keyboard.press("Enter")
    page.wait_for_url(f"{providers.google.base}/**")
    tab_to(f"el.type === 'radio' && el.value === '{ALICE}'")
    page.keyboard.press("Space")
    tab_to("(el.tagName === 'BUTTON' || el.type === 'submit') && /allow/i.test(el.innerText || el.value)")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live}/connect/*/done")
    assert page.inner_text("h1") == "Your calendar is connected"
    tab_to("el.id === 'continue'")
    assert "state=connected" in page.evaluate("document.activeElement.href")


@pytest.mark.parametrize(
    ("locale", "picture", "google_label", "microsoft_label"),
    [
        ("en", BRANDED_SCREENSHOT.name, "Continue with Google", "Sign in with Microsoft"),
        ("de", "choose-page-branded-de.png", "Weiter mit Google", "Mit Microsoft anmelden"),
    ],
)
def test_branded_choose_page(
    live: str,
    page: Any,
    client: FlaskClient,
    auth: dict[str, str],
    project: Any,
    tmp_path: Path,
    locale: str,
    picture: str,
    google_label: str,
    microsoft_label: str,
) -> None:
    """The README's pictures of a branded choose page, in two languages (refreshed with UPDATE_SCREENSHOTS=1)."""
    branding.set_branding(project=project, changes=BRANDED)
    _, path = new_session(client, auth, locale=locale)
    page.goto(live + path)
    assert page.inner_text("#brand-name") == "Acme Calendar"
    assert page.get_attribute("html", "lang") == locale
    google, microsoft = page.locator("#connect-google"), page.locator("#connect-microsoft")
    assert google.inner_text() == google_label and microsoft.inner_text() == microsoft_label
    assert google.locator("svg path").count() == 5 and microsoft.locator("svg rect").count() == 4
    # The accent colour arrived through the stylesheet (no inline style under the CSP).
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.brand-header')).borderTopColor") == "rgb(123, 31, 162)"
    )
    target = BRANDED_SCREENSHOT.with_name(picture) if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path / picture
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 1000
