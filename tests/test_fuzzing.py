"""Fuzzing every route of the app with nasty input: no answer is ever a 5xx.

Each URL rule of the app (the API, the dashboard, the consent pages, the push receivers) is called
with every method it takes and: nasty values in each path variable; nasty values in every query
parameter the service reads; and nasty bodies (odd JSON types, NUL bytes, lone surrogates, deep
nesting, huge bodies and numbers, wrong content types, bytes that are not UTF-8). Logged in as the
project's admin and with the project's API key, so that requests get past authentication; the
real objects' ids are used where a variable is not the one being fuzzed.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from tests.dashboard.conftest import log_in
from tests.emulation import Receiver
from webapp.dashboard import accounts
from webapp.models import Project


def _cursor(value: Any, row_id: Any, reverse: Any = 0) -> str:
    raw = json.dumps({"v": value, "i": row_id, "r": reverse}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Path variables: NUL bytes, invalid UTF-8, very long, numbers out of every integer range, traversal.
PATH_VALUES = [
    "%00",
    "cal_%00AAAAAAAAAAAAAAA",
    "wh_%00",
    "%FF%FE",
    "%C3%A9%E2%9C%93",
    "x" * 3000,
    "0",
    "-1",
    "99999999999999999999999999",
    "..%2F..%2Fetc",
    "%20",
    "rotate_secret",
]

# Query values for every parameter: out-of-range dates and numbers, forged cursors, junk.
QUERY_VALUES = [
    "%00",
    "",
    "a%00b",
    "x" * 5000,
    "-1",
    "0",
    "1e400",
    "99999999999999999999999999",
    "%C2%B2",  # a digit to str.isdigit(), not to int()
    "0001-01-01T00:00:00%2B14:00",
    "9999-12-31T23:59:59-14:00",
    "0000-00-00T00:00:00Z",
    "2025-13-45T99:99:99Z",
    "%FF",
    _cursor(10**30, 10**30),
    _cursor("0001-01-01T00:00:00+14:00", 1),
    _cursor("9999-12-31T23:59:59-14:00", 1, 1),
    _cursor(None, None),
    _cursor([], {}),
    _cursor(1, 2**63),
    "!!notbase64!!",
]
PARAMS = [
    "cursor", "page_size", "deduplication_key", "state", "platform", "calendar_id", "calendar_deduplication_key",
    "updated_at_gte", "updated_after", "event_id", "start_time_gte", "end_time_lte", "ordering", "is_deleted",
    "status", "validate", "q", "sort", "stale", "next", "code", "state", "error", "token", "validationToken",
]  # fmt: skip

_DEEP = "[" * 100_000 + "]" * 100_000
_ODD_VALUES: list[Any] = [None, True, 1, -(2**70), 1e308, "", " ", "\x00", "a\x00b", [], {}, [1], {"a": None}]
_FIELDS = [
    "platform", "client_id", "client_secret", "refresh_token", "platform_uuid", "metadata", "deduplication_key",
    "calendar_id", "redirect_url", "url", "triggers", "state",
]  # fmt: skip

# (content type, body) pairs.
BODIES: list[tuple[str, bytes]] = [
    ("application/json", b"null"),
    ("application/json", b"[]"),
    ("application/json", b"1"),
    ("application/json", b'"text"'),
    ("application/json", b"true"),
    ("application/json", b"{"),
    ("application/json", b"NaN"),
    ("application/json", b'{"a": Infinity}'),
    ("application/json", b"\xff\xfe\x00"),
    ("application/json", b'{"client_id": "\\ud800"}'),
    ("application/json", b'{"\\u0000": "\\u0000"}'),
    ("application/json", b'{"n": ' + b"9" * 5000 + b"}"),
    ("application/json", _DEEP.encode()),
    ("application/json", b'{"a": "' + b"x" * 300_000 + b'"}'),
    ("application/json", json.dumps({"metadata": {"k" * 2000: "v" * 2000}}).encode()),
    ("application/json", json.dumps({"triggers": ["calendar.state_change"] * 5000}).encode()),
    ("text/plain", b"hello"),
    ("application/x-www-form-urlencoded", b"email=%00&password=%00&url=%00&name=%00&origin=%00&client_id=%00"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n\x00\r\n--x--\r\n"),
    ("application/json; charset=latin-1", '{"client_id": "\xe9"}'.encode("latin-1")),
    ("", b"\x00\x01\x02"),
] + [("application/json", json.dumps({field: value}).encode()) for field in _FIELDS for value in _ODD_VALUES]

SKIPPED_ENDPOINTS = {"static", "dashboard.logout"}  # files; logging out would end the session under test


@pytest.fixture
def world(app: Flask, project: Project, api_key: str, make_calendar: Any, receiver: Receiver) -> dict[str, str]:
    """Real ids of every kind of object, and a logged-in dashboard client's cookie."""
    client = app.test_client()
    auth = {"Authorization": f"Token {api_key}"}
    calendar = make_calendar()
    webhook = client.post("/api/v1/webhooks", json={"url": receiver.url + "/hook"}, headers=auth).get_json()
    delivery = client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=auth).get_json()
    session = client.post("/api/v1/connect_sessions", json={}, headers=auth).get_json()
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 2
    return {
        "project_id": project.object_id,
        "calendar_id": calendar["id"],
        "webhook_id": webhook["id"],
        "endpoint_id": webhook["id"],
        "delivery_id": delivery["id"],
        "token": session["url"].rsplit("/", 1)[1],
        "platform": "google",
        "code": "token_revoked",
        "key_id": "key_AAAAAAAAAAAAAAAA",
        "origin_id": "1",
    }


def _url(rule: Rule, values: dict[str, str], fuzzed: str | None = None, nasty: str = "") -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        if name == fuzzed:
            return nasty
        if name == "object_id":
            return values[_OBJECT_ID_KIND.get(rule.rule.split("/")[3], "calendar_id")]
        return values.get(name, "x")

    return re.sub(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-z_]+)>", fill, rule.rule)


_OBJECT_ID_KIND = {
    "calendars": "calendar_id",
    "calendar_events": "calendar_id",
    "webhooks": "webhook_id",
    "webhook_deliveries": "delivery_id",
    "connect_sessions": "token",
}


def _rules(app: Flask) -> list[Rule]:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED_ENDPOINTS),
        key=lambda rule: (rule.rule.startswith("/api/") is False, rule.rule),
    )


def _send(client: FlaskClient, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> int:
    return client.open(url, method=method, headers=headers, **kwargs).status_code


def test_no_route_answers_5xx_to_nasty_input(app: Flask, world: dict[str, str], api_key: str) -> None:
    accounts.create_admin(email="fuzz@example.com", password="fuzzing password", project_ids=[world["project_id"]])
    client = app.test_client()
    assert log_in(client, email="fuzz@example.com", password="fuzzing password").status_code == 302
    headers = {"Authorization": f"Token {api_key}"}
    failures: list[str] = []
    requests = 0

    def check(method: str, url: str, **kwargs: Any) -> None:
        nonlocal requests
        requests += 1
        status = _send(client, method, url, headers, **kwargs)
        if status >= 500:
            body = kwargs.get("data", b"")[:80]
            failures.append(f"{status} {method} {url[:200]} {kwargs.get('content_type', '')} {body!r}")

    for rule in _rules(app):
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        variables = sorted(rule.arguments)
        for method in methods:
            for name in variables:
                for nasty in PATH_VALUES:
                    check(method, _url(rule, world, name, nasty))
            url = _url(rule, world)
            for value in QUERY_VALUES:
                check(method, url + "?" + "&".join(f"{param}={value}" for param in PARAMS))
            if method in ("POST", "PATCH", "PUT"):
                for content_type, body in BODIES:
                    check(method, url, data=body, content_type=content_type)
            check("OPTIONS", url)
    assert requests > 6000  # 50 rules, every method; see the README
    assert failures == [], "\n".join(failures)
