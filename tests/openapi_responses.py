"""Every API response a test receives is checked against ``GET /api/v1/openapi.json``.

``CheckedClient`` is the test client of the API tests (``tests/api/conftest.py`` and the webhook and
connect-session API tests switch it on): after each request to ``/api/v1/…`` it finds the route's
operation in the document, and fails the test if the status is not documented there or the body
does not validate against the documented schema (formats ``date-time`` and ``uuid`` included). So
the contract tests, whose expectations stay as written, also prove the document true for every
answer they provoke.

Left out, with the reason: answers for no route or a method the route does not have (404/405 before
any view; OpenAPI describes the operations there are), ``HEAD``/``OPTIONS`` (Flask's own), a 500
(never part of the contract: schemathesis and the fuzzing tests prove none occurs; the test that
forces one checks its body itself), and tests marked ``openapi_unchecked`` (rows written around the
API, holding what no request could store).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

from webapp.api.openapi import DOCUMENT

PREFIX = "/api/v1"
FORMATS = FormatChecker(["uuid"])


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 (what ``datetime.fromisoformat`` reads, with an offset or ``Z``)."""
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value).tzinfo is not None


def openapi_path(rule: str) -> str:
    """``/api/v1/calendars/<object_id>`` → ``/calendars/{object_id}`` (converters dropped)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule[len(PREFIX) :])


@functools.cache
def _validator(path: str, method: str, status: str) -> Draft202012Validator | None:
    operation = DOCUMENT["paths"][path][method]
    content = operation["responses"][status].get("content", {}).get("application/json")
    if content is None or "schema" not in content:
        return None
    schema = {"components": DOCUMENT["components"], **content["schema"]}
    return Draft202012Validator(schema, format_checker=FORMATS)


def check_response(app: Flask, method: str, path: str, response: TestResponse) -> str | None:
    """The documented operation this answer belongs to (``"GET /calendars/{object_id}"``), after
    checking it; None when it is left out (see the module docstring).

    :raises AssertionError: undocumented status, or a body that does not match its schema.
    """
    if not path.startswith(PREFIX + "/") or method in ("HEAD", "OPTIONS") or response.status_code == 500:
        return None
    try:
        rule, _ = app.url_map.bind("localhost").match(path, method=method, return_rule=True)
    except HTTPException:
        return None  # no such route or method
    documented = openapi_path(rule.rule)
    operations = DOCUMENT["paths"].get(documented, {})
    assert method.lower() in operations, f"{method} {documented} is not in the OpenAPI document"
    status = str(response.status_code)
    responses = operations[method.lower()]["responses"]
    body = response.get_data()
    assert status in responses, (
        f"{method} {documented} answered {status}, which the OpenAPI document does not list: {body[:300]!r}"
    )
    validator = _validator(documented, method.lower(), status)
    if validator is None:
        assert body == b"" or documented == "/openapi.json", f"{method} {documented} {status}: body not documented"
    else:
        assert response.mimetype == "application/json", (method, documented, status, response.mimetype)
        errors = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.absolute_path))
        assert not errors, f"{method} {documented} {status} does not match the document: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]
        )
    return f"{method} {documented}"


class CheckedClient(FlaskClient):
    """A test client that checks every API answer against the OpenAPI document (``check_response``)."""

    checked: list[str] = []  # the operations checked, in order (reset by the fixture)

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        request = response.request
        operation = check_response(self.application, request.method, request.path, response)
        if operation is not None:
            CheckedClient.checked.append(operation)
        return response


@pytest.fixture
def openapi_checked(app: Flask, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Switch ``CheckedClient`` on for the shared app during one test; yields the operations checked."""
    if request.node.get_closest_marker("openapi_unchecked") is not None:
        yield []
        return
    previous = app.test_client_class
    app.test_client_class = CheckedClient
    CheckedClient.checked = []
    try:
        yield CheckedClient.checked
    finally:
        app.test_client_class = previous
