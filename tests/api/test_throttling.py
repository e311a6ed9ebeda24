"""POST /calendars is throttled per project, with Attendee's message and ``Retry-After``."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.contract import CALENDARS, json_body, valid
from webapp.models import Project
from webapp.projects import service as projects

THROTTLED = re.compile(r"Request was throttled\. Expected available in ([1-9][0-9]*) seconds\.")


@pytest.fixture
def low_limit(app: Flask) -> None:
    app.config["API_CREATE_RATE_LIMIT"] = "3 per minute"


def _create(client: FlaskClient, headers: dict[str, str], n: int) -> int:
    return client.post(CALENDARS, json=valid(deduplication_key=f"t{n}"), headers=headers).status_code


def _assert_throttled(response: object) -> None:
    assert response.status_code == 429  # type: ignore[attr-defined]
    body = json_body(response)  # type: ignore[arg-type]
    assert list(body) == ["detail"]
    match = THROTTLED.fullmatch(body["detail"])
    assert match is not None, body
    wait = int(match.group(1))
    assert 1 <= wait <= 61  # a one-minute window, rounded up
    assert response.headers["Retry-After"] == str(wait)  # type: ignore[attr-defined]


def test_fourth_create_in_a_minute_is_throttled(low_limit: None, client: FlaskClient, auth: dict[str, str]) -> None:
    assert [_create(client, auth, n) for n in range(3)] == [201, 201, 201]
    _assert_throttled(client.post(CALENDARS, json=valid(deduplication_key="t4"), headers=auth))
    _assert_throttled(client.post(CALENDARS, json=valid(deduplication_key="t5"), headers=auth))


def test_limit_is_per_project(
    low_limit: None, client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str]
) -> None:
    assert [_create(client, auth, n) for n in range(3)] == [201, 201, 201]
    assert _create(client, auth, 3) == 429
    assert [_create(client, other_auth, n) for n in range(3)] == [201, 201, 201]
    assert _create(client, other_auth, 3) == 429


def test_limit_is_shared_by_the_keys_of_one_project(
    low_limit: None, client: FlaskClient, auth: dict[str, str], project: Project
) -> None:
    _, second_key = projects.create_api_key(project=project, name="second")
    second = {"Authorization": f"Token {second_key}"}
    assert [_create(client, auth, 0), _create(client, second, 1), _create(client, auth, 2)] == [201] * 3
    _assert_throttled(client.post(CALENDARS, json=valid(deduplication_key="x"), headers=second))


def test_only_creates_are_throttled(low_limit: None, client: FlaskClient, auth: dict[str, str]) -> None:
    assert [_create(client, auth, n) for n in range(3)] == [201, 201, 201]
    assert _create(client, auth, 3) == 429
    listed = client.get(CALENDARS, headers=auth)
    assert listed.status_code == 200
    calendar_id = listed.get_json()["results"][0]["id"]
    assert client.get(f"{CALENDARS}/{calendar_id}", headers=auth).status_code == 200
    assert client.patch(f"{CALENDARS}/{calendar_id}", json={}, headers=auth).status_code == 200


def test_default_limit_is_3000_per_minute(app: Flask) -> None:
    assert app.config["API_CREATE_RATE_LIMIT"] == "3000 per minute"


@pytest.mark.parametrize("setting", [{"API_CREATE_RATE_LIMIT": "lots"}, {"RATELIMIT_STORAGE_URI": "nosuch://x"}])
def test_unusable_limit_settings_stop_the_start(setting: dict[str, str]) -> None:
    from config import ConfigurationError, TestConfig
    from webapp import create_app

    with pytest.raises(ConfigurationError, match="Rate limit settings"):
        create_app(TestConfig, **setting)


def test_several_windows_each_count(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    app.config["API_CREATE_RATE_LIMIT"] = "5 per hour;2 per minute"
    assert [_create(client, auth, n) for n in range(2)] == [201, 201]
    _assert_throttled(client.post(CALENDARS, json=valid(deduplication_key="third"), headers=auth))
