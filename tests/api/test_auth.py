"""The authentication table of api.md, ``WWW-Authenticate``, and authentication before everything else."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.api.contract import (
    BAD_HEADER,
    BAD_KEY,
    CALENDARS,
    MISSING_HEADER,
    PREFIX,
    json_body,
    send,
    valid,
)
from webapp.extensions import db
from webapp.models import Project
from webapp.projects import service as projects

# (method, path) of every calendars endpoint; "{id}" is replaced by an existing calendar's id.
ENDPOINTS = [
    ("POST", CALENDARS),
    ("GET", CALENDARS),
    ("GET", f"{CALENDARS}/{{id}}"),
    ("PATCH", f"{CALENDARS}/{{id}}"),
    ("DELETE", f"{CALENDARS}/{{id}}"),
]


def _request(client: FlaskClient, method: str, path: str, headers: dict[str, str], calendar_id: str) -> Any:
    body = valid(deduplication_key="auth-test") if method == "POST" else {}
    json = body if method in ("POST", "PATCH") else None
    return client.open(path.replace("{id}", calendar_id), method=method, json=json, headers=headers)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, MISSING_HEADER, id="header-missing"),
        pytest.param("", MISSING_HEADER, id="header-empty"),
        pytest.param("   ", MISSING_HEADER, id="header-whitespace"),
        pytest.param("Token", BAD_HEADER, id="token-without-key"),
        pytest.param("Token a b", BAD_HEADER, id="three-parts"),
        pytest.param("Basic dXNlcjpwYXNz", BAD_HEADER, id="basic-scheme"),
        pytest.param("{key}", BAD_HEADER, id="key-without-scheme"),
        pytest.param("Tokens {key}", BAD_HEADER, id="wrong-word"),
        pytest.param("Token not-a-real-key", BAD_KEY, id="unknown-key"),
        pytest.param("Bearer not-a-real-key", BAD_KEY, id="unknown-bearer-key"),
        pytest.param("Token {key}x", BAD_KEY, id="key-with-extra-character"),
    ],
)
def test_authentication_failures(
    client: FlaskClient, api_key: str, make_calendar: Any, header: str | None, expected: dict[str, str]
) -> None:
    calendar_id = make_calendar()["id"]
    headers = {} if header is None else {"Authorization": header.replace("{key}", api_key)}
    for method, path in ENDPOINTS:
        response = _request(client, method, path, headers, calendar_id)
        assert response.status_code == 401, (method, path)
        assert json_body(response) == expected, (method, path)
        assert response.headers.get("WWW-Authenticate") == "Token", (method, path)


def test_revoked_key_is_refused(
    app: Flask, client: FlaskClient, project: Project, auth: dict[str, str], make_calendar: Any
) -> None:
    calendar_id = make_calendar()["id"]
    key, plaintext = projects.create_api_key(project=project, name="second")
    headers = {"Authorization": f"Token {plaintext}"}
    assert client.get(CALENDARS, headers=headers).status_code == 200
    projects.revoke_api_key(object_id=key.object_id)
    for method, path in ENDPOINTS:
        response = _request(client, method, path, headers, calendar_id)
        assert response.status_code == 401, (method, path)
        assert json_body(response) == BAD_KEY, (method, path)
        assert response.headers.get("WWW-Authenticate") == "Token", (method, path)
    # The project's other key still works.
    assert client.get(CALENDARS, headers=auth).status_code == 200


def test_accepted_authorization_headers(client: FlaskClient, api_key: str) -> None:
    """``Token`` in any case, any run of spaces, and the ``Bearer`` extension."""
    for header in (
        "Token {key}",
        "token {key}",
        "TOKEN {key}",
        "ToKeN {key}",
        "Token   {key}",
        "Bearer {key}",
        "bearer {key}",
    ):
        response = client.get(CALENDARS, headers={"Authorization": header.replace("{key}", api_key)})
        assert response.status_code == 200, header
        assert json_body(response) == {"next": None, "previous": None, "results": []}


def test_key_is_scoped_to_its_project(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str], make_calendar: Any
) -> None:
    make_calendar()
    assert len(client.get(CALENDARS, headers=auth).get_json()["results"]) == 1
    assert client.get(CALENDARS, headers=other_auth).get_json()["results"] == []


def test_keys_are_stored_only_as_sha256_hashes(app: Flask, project: Project, api_key: str) -> None:
    stored = [row[0] for row in db.session.execute(text("SELECT key_hash FROM api_key"))]
    assert hashlib.sha256(api_key.encode()).hexdigest() in stored
    assert all(api_key not in value for value in stored)


# --- authentication runs before method, parsing and throttling checks --------------------------


@pytest.mark.parametrize(
    ("method", "path", "data", "content_type"),
    [
        pytest.param("PUT", f"{CALENDARS}/{{id}}", b"{}", "application/json", id="wrong-method-PUT-one"),
        pytest.param("PUT", CALENDARS, b"{}", "application/json", id="wrong-method-PUT-list"),
        pytest.param("DELETE", CALENDARS, None, "application/json", id="wrong-method-DELETE-list"),
        pytest.param("POST", f"{CALENDARS}/{{id}}", b"{}", "application/json", id="wrong-method-POST-one"),
        pytest.param("POST", CALENDARS, b"{not json", "application/json", id="malformed-json"),
        pytest.param("POST", CALENDARS, b"[]", "application/json", id="array-body"),
        pytest.param("POST", CALENDARS, b"hello", "text/plain", id="wrong-media-type"),
        pytest.param("POST", CALENDARS, b"\xff\xfe\xfa", "application/json", id="non-utf8"),
        pytest.param("POST", CALENDARS, b"[" * 100_000, "application/json", id="deeply-nested"),
        pytest.param("POST", CALENDARS, b"x" * (1024 * 1024), "application/json", id="1MB-body"),
        pytest.param("POST", CALENDARS, b"{}", "application/json", id="invalid-fields"),
        pytest.param("PATCH", f"{CALENDARS}/{{id}}", b"{bad", "application/json", id="patch-malformed"),
        pytest.param("PATCH", f"{CALENDARS}/cal_AAAAAAAAAAAAAAAA", b"{}", "application/json", id="patch-404"),
        pytest.param("GET", f"{CALENDARS}/cal_AAAAAAAAAAAAAAAA", None, "application/json", id="get-404"),
        pytest.param("GET", f"{CALENDARS}?cursor=garbage", None, "application/json", id="bad-cursor"),
        pytest.param("GET", f"{CALENDARS}?page_size=0", None, "application/json", id="bad-page-size"),
    ],
)
def test_authentication_runs_first(
    client: FlaskClient, make_calendar: Any, method: str, path: str, data: bytes | None, content_type: str
) -> None:
    path = path.replace("{id}", make_calendar()["id"])
    for header, expected in ((None, MISSING_HEADER), ("Basic abc", BAD_HEADER), ("Token nope", BAD_KEY)):
        headers = {} if header is None else {"Authorization": header}
        response = send(client, method, path, headers, data=data, content_type=content_type)
        assert response.status_code == 401, header
        assert json_body(response) == expected, header
        assert response.headers.get("WWW-Authenticate") == "Token", header


def test_authentication_runs_before_throttling(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    app.config["API_CREATE_RATE_LIMIT"] = "1 per minute"
    assert client.post(CALENDARS, json=valid(), headers=auth).status_code == 201
    assert client.post(CALENDARS, json=valid(deduplication_key="b"), headers=auth).status_code == 429
    for headers, expected in (({}, MISSING_HEADER), ({"Authorization": "Token nope"}, BAD_KEY)):
        response = client.post(CALENDARS, json=valid(deduplication_key="c"), headers=headers)
        assert response.status_code == 401
        assert json_body(response) == expected


def test_openapi_document_needs_no_key(client: FlaskClient) -> None:
    assert client.get(f"{PREFIX}/openapi.json").status_code == 200
