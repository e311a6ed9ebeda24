"""The response check of the API tests (``tests/openapi_responses.py``) works, and can fail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.openapi_responses import check_response


def _answer(status: int, body: Any) -> TestResponse:
    return TestResponse(
        [json.dumps(body).encode()], f"{status} X", [("Content-Type", "application/json")], request=None
    )


def test_the_api_tests_check_every_answer(
    client: FlaskClient, auth: dict[str, str], openapi_checked: list[str]
) -> None:
    client.get("/api/v1/calendars", headers=auth)
    client.get("/api/v1/calendars/cal_AAAAAAAAAAAAAAAA", headers=auth)
    client.delete("/api/v1/webhooks/wh_AAAAAAAAAAAAAAAA", headers=auth)
    assert openapi_checked == ["GET /calendars", "GET /calendars/{object_id}", "DELETE /webhooks/{object_id}"]


def test_a_body_off_its_schema_fails(app: Flask, client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    calendar = make_calendar()
    path = f"/api/v1/calendars/{calendar['id']}"
    assert check_response(app, "GET", path, _answer(200, calendar)) == "GET /calendars/{object_id}"
    for wrong in ({**calendar, "extra": 1}, {**calendar, "created_at": "yesterday"}, {"id": calendar["id"]}):
        with pytest.raises(AssertionError, match="does not match the document"):
            check_response(app, "GET", path, _answer(200, wrong))
    with pytest.raises(AssertionError, match="does not match the document"):
        check_response(app, "GET", path, _answer(404, {"detail": "Calendar not found"}))  # the 404 is {"error"}


def test_an_undocumented_status_fails(app: Flask) -> None:
    with pytest.raises(AssertionError, match="does not list"):
        check_response(app, "GET", "/api/v1/calendars", _answer(409, {"detail": "no"}))
