"""POST/GET /api/v1/connect_sessions: fields, redirect-origin check (no open redirects), isolation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.openapi_responses import openapi_checked
from webapp.connect import apps
from webapp.models import Project

# Every API answer of these tests is checked against the OpenAPI document.
pytestmark = pytest.mark.usefixtures(openapi_checked.__name__)

URL = "/api/v1/connect_sessions"


@pytest.fixture
def allowed(project: Project) -> None:
    apps.allow_redirect_origin(project=project, origin="https://app.example.com")
    apps.allow_redirect_origin(project=project, origin="http://localhost:3000/")


def test_create_and_read(client: FlaskClient, auth: dict[str, str], allowed: None, make_calendar: Any) -> None:
    calendar = make_calendar()
    response = client.post(
        URL,
        json={
            "calendar_id": calendar["id"],
            "metadata": {"k": "v"},
            "redirect_url": "https://APP.example.com:443/back?x=1",
        },
        headers=auth,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert list(body) == ["id", "url", "expires_at"]
    assert body["id"].startswith("cs_") and body["expires_at"].endswith("Z")
    url = urlsplit(body["url"])
    assert url.scheme == "http" and url.netloc == "localhost" and url.path.startswith("/connect/")
    shown = client.get(f"{URL}/{body['id']}", headers=auth).get_json()
    assert shown == {
        "id": body["id"],
        "status": "pending",
        "platform": "google",
        "calendar_id": calendar["id"],
        "deduplication_key": None,
        "metadata": {"k": "v"},
        "redirect_url": "https://APP.example.com:443/back?x=1",
        "expires_at": body["expires_at"],
        "created_at": shown["created_at"],
        "used_at": None,
        "error_code": None,
        "locale": None,
    }


def test_empty_body_and_public_base_url(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://connect.example.com/"
    body = client.post(URL, headers=auth).get_json()
    assert body["url"].startswith("https://connect.example.com/connect/")
    shown = client.get(f"{URL}/{body['id']}", headers=auth).get_json()
    assert shown["platform"] is None and shown["status"] == "pending"


@pytest.mark.parametrize(
    "redirect_url",
    [
        "https://evil.example.net/",
        "https://app.example.com.evil.net/",
        "http://app.example.com/",  # another scheme is another origin
        "https://app.example.com:8443/",
        "https://user@app.example.com/",
        "http://localhost:3001/",
    ],
)
def test_redirect_url_outside_the_allowed_origins(
    client: FlaskClient, auth: dict[str, str], allowed: None, redirect_url: str
) -> None:
    response = client.post(URL, json={"redirect_url": redirect_url}, headers=auth)
    assert response.status_code == 400
    assert list(response.get_json()) == ["redirect_url"]


@pytest.mark.parametrize(
    "redirect_url", ["javascript:alert(1)", "//app.example.com/x", "/relative", "ftp://app.example.com"]
)
def test_redirect_url_must_be_absolute_http(
    client: FlaskClient, auth: dict[str, str], allowed: None, redirect_url: str
) -> None:
    response = client.post(URL, json={"redirect_url": redirect_url}, headers=auth)
    assert response.status_code == 400
    assert response.get_json() == {"redirect_url": ["Enter a valid absolute http(s) URL."]}


def test_allowed_origins_pass(client: FlaskClient, auth: dict[str, str], allowed: None) -> None:
    for url in ("https://app.example.com", "http://localhost:3000/cb#frag"):
        assert client.post(URL, json={"redirect_url": url}, headers=auth).status_code == 201


def test_field_errors(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str], make_calendar: Any
) -> None:
    calendar = make_calendar()
    foreign = client.post(URL, json={"calendar_id": calendar["id"]}, headers=other_auth)
    unknown = client.post(URL, json={"calendar_id": "cal_nope"}, headers=auth)
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.get_json() == unknown.get_json() == {"calendar_id": ["No calendar with this id in this project."]}
    wrong_platform = client.post(URL, json={"calendar_id": calendar["id"], "platform": "microsoft"}, headers=auth)
    assert list(wrong_platform.get_json()) == ["platform"]
    bad = client.post(URL, json={"metadata": [], "platform": "yahoo", "deduplication_key": ""}, headers=auth)
    assert bad.get_json() == {
        "platform": ['"yahoo" is not a valid choice.'],
        "deduplication_key": ["This field may not be blank."],
        "metadata": ["Metadata must be an object not an array or other type"],
    }
    extra = client.post(URL, json={"nope": 1}, headers=auth)
    assert "non_field_errors" in extra.get_json()
    assert client.post(URL, data="x", headers={**auth, "Content-Type": "text/plain"}).status_code == 415
    assert client.post(URL, json={}).status_code == 401


def test_another_projects_session_is_not_found(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str]
) -> None:
    created = client.post(URL, json={}, headers=auth).get_json()
    response = client.get(f"{URL}/{created['id']}", headers=other_auth)
    assert response.status_code == 404
    assert response.get_json() == {"error": "Connect session not found"}
    assert client.get(f"{URL}/cs_unknown", headers=auth).get_json() == {"error": "Connect session not found"}


def test_responses_match_the_openapi_document(client: FlaskClient, auth: dict[str, str]) -> None:
    from jsonschema import Draft202012Validator

    document = client.get("/api/v1/openapi.json").get_json()

    def validate(path: str, method: str, status: int, body: Any) -> None:
        schema = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        Draft202012Validator({"components": document["components"], **schema}).validate(body)

    created = client.post(URL, json={"platform": "google"}, headers=auth).get_json()
    validate("/connect_sessions", "post", 201, created)
    validate("/connect_sessions/{object_id}", "get", 200, client.get(f"{URL}/{created['id']}", headers=auth).get_json())
    validate("/connect_sessions", "post", 400, client.post(URL, json={"platform": 1}, headers=auth).get_json())
