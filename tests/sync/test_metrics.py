"""A real sync against the emulator moves the sync and refresh counters and logs one line per attempt."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from tests.emulation import ALICE, Provider
from tests.observability.scraping import sample, scrape
from tests.sync.conftest import MakeCalendar, at, google_refresh_token, microsoft_refresh_token, seed_events
from tests.sync.conftest import sync_now as _sync
from webapp.models import Platform


def moved(before: dict[str, Any], after: dict[str, Any], name: str, labels: dict[str, str]) -> float:
    return sample(after, name, labels) - sample(before, name, labels)


def test_a_successful_sync_moves_the_counters(
    emulated_app: Flask, google: Provider, connect: MakeCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    seed_events(google, [{"user": ALICE, "summary": "Standup", "start": at(2), "end": at(3)}])
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    before = scrape(emulated_app)
    with caplog.at_level(logging.INFO, logger="webapp.sync"):
        assert _sync(calendar).outcome == "success"
    after = scrape(emulated_app)

    def moved(name: str, labels: dict[str, str]) -> float:
        return sample(after, name, labels) - sample(before, name, labels)

    assert moved("calendar_sync_attempts_total", {"platform": "google", "outcome": "success", "code": ""}) == 1
    assert moved("calendar_sync_attempts_total", {"outcome": "failure"}) == 0
    assert moved("calendar_sync_duration_seconds_count", {"platform": "google"}) == 1
    assert moved("token_refreshes_total", {"platform": "google", "outcome": "success"}) == 1
    assert sample(after, "calendars", {"platform": "google", "state": "connected"}) == 1
    lines = [r for r in caplog.records if r.getMessage().startswith("sync attempt")]
    assert len(lines) == 1
    assert "outcome=success" in lines[0].getMessage() and "duration_ms=" in lines[0].getMessage()
    assert getattr(lines[0], "calendar_id", None) == calendar.object_id


def test_a_failed_sync_counts_its_taxonomy_code(
    emulated_app: Flask, google: Provider, connect: MakeCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    calendar = connect(Platform.GOOGLE, google_refresh_token(google))
    google.control("revoke-user-grants", {"email": ALICE})
    before = scrape(emulated_app)
    with caplog.at_level(logging.INFO, logger="webapp.sync"):
        assert _sync(calendar).error_code == "token_revoked"
    after = scrape(emulated_app)
    labels = {"platform": "google", "outcome": "failure", "code": "token_revoked"}
    assert (
        sample(after, "calendar_sync_attempts_total", labels) - sample(before, "calendar_sync_attempts_total", labels)
        == 1
    )
    refused = {"platform": "google", "outcome": "failure"}
    assert sample(after, "token_refreshes_total", refused) - sample(before, "token_refreshes_total", refused) == 1
    assert sample(after, "calendars", {"platform": "google", "state": "disconnected"}) == 1
    disconnected = {"platform": "google", "code": "token_revoked"}
    assert moved(before, after, "calendar_disconnects_total", disconnected) == 1
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sync attempt")]
    assert len(lines) == 1 and "outcome=failure code=token_revoked" in lines[0]


def test_microsoft_syncs_are_labelled_microsoft(
    emulated_app: Flask, microsoft: Provider, connect: MakeCalendar
) -> None:
    calendar = connect(Platform.MICROSOFT, microsoft_refresh_token(microsoft))
    before = scrape(emulated_app)
    assert _sync(calendar).outcome == "success"
    after = scrape(emulated_app)
    labels = {"platform": "microsoft", "outcome": "success"}
    assert (
        sample(after, "calendar_sync_attempts_total", labels) - sample(before, "calendar_sync_attempts_total", labels)
        == 1
    )
