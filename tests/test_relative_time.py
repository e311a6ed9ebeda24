"""One relative-time presenter for every page: the dashboard (English), the health banner and the
consent pages (in the page's language)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from webapp.timestamps import relative_time

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "words"),
    [
        (timedelta(0), "just now"),
        (timedelta(milliseconds=400), "just now"),
        (timedelta(seconds=20), "20 seconds ago"),
        (timedelta(seconds=89), "1 minute ago"),
        (timedelta(minutes=3), "3 minutes ago"),
        (timedelta(hours=2), "2 hours ago"),
        (timedelta(days=2, hours=7), "2 days ago"),
        (-timedelta(hours=3), "in 3 hours"),
    ],
)
def test_english_on_the_dashboard(app: Flask, elapsed: timedelta, words: str) -> None:
    with app.test_request_context("/dashboard/", headers={"Accept-Language": "de"}):
        assert relative_time(NOW - elapsed, NOW) == words


def test_naive_times_are_utc(app: Flask) -> None:
    with app.test_request_context("/dashboard/"):
        assert relative_time((NOW - timedelta(minutes=5)).replace(tzinfo=None), NOW) == "5 minutes ago"


def test_the_consent_pages_speak_the_browsers_language(app: Flask) -> None:
    with app.test_request_context("/connect/some-token", headers={"Accept-Language": "de"}):
        assert relative_time(NOW - timedelta(minutes=3), NOW) == "vor 3 Minuten"
