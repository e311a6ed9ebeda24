"""Shared constants and helpers of the API contract tests (the contract is ``shared/spec/api.md``)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import VALID_CALENDAR

PREFIX = "/api/v1"
CALENDARS = f"{PREFIX}/calendars"

CALENDAR_KEYS = [
    "id",
    "platform",
    "client_id",
    "platform_uuid",
    "state",
    "metadata",
    "deduplication_key",
    "connection_failure_data",
    "created_at",
    "updated_at",
    "last_successful_sync_at",
    "last_attempted_sync_at",
]
CALENDAR_ID = re.compile(r"^cal_[A-Za-z0-9]{16}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

CREATE_ALLOWED = "client_id, client_secret, deduplication_key, metadata, platform, platform_uuid, refresh_token"
PATCH_ALLOWED = "client_secret, metadata, refresh_token"

NOT_FOUND = {"error": "Calendar not found"}
MISSING_HEADER = {"detail": "Missing Authorization header"}
BAD_HEADER = {"detail": "Invalid Authorization header. Should have this format: Token <api_key>"}
BAD_KEY = {"detail": "Invalid or disabled API key"}


def calendar_url(object_id: str) -> str:
    return f"{CALENDARS}/{object_id}"


DROP: Any = object()


def valid(**overrides: Any) -> dict[str, Any]:
    """A valid create body with *overrides* applied (``DROP`` removes a field)."""
    body = {**VALID_CALENDAR, **overrides}
    return {k: v for k, v in body.items() if v is not DROP}


def json_body(response: TestResponse) -> Any:
    """The response body as JSON, asserting it is JSON (never HTML)."""
    assert response.mimetype == "application/json", (response.status, response.get_data(as_text=True)[:300])
    return response.get_json()


def send(
    client: FlaskClient,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    data: bytes | str | None = None,
    content_type: str = "application/json",
) -> TestResponse:
    """Send a raw body (for malformed, oversized or non-UTF-8 requests)."""
    return client.open(path, method=method, data=data, headers=headers or {}, content_type=content_type)


def all_pages(client: FlaskClient, headers: dict[str, str], url: str) -> list[dict[str, Any]]:
    """Every calendar reachable from *url* by following ``next`` links."""
    seen: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url, headers=headers)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        seen.extend(page["results"])
        next_url = page["next"]
    return seen
