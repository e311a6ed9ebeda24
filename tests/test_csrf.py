"""CSRF protection, each way a request can pass or fail (the forms' own tests use the real pages)."""

from __future__ import annotations

import time

import pytest
from flask import Blueprint, Flask, render_template_string
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFError, CSRFProtect


@pytest.fixture
def site() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", WTF_CSRF_TIME_LIMIT=60)
    protection = CSRFProtect()
    protection.init_app(app)

    @app.errorhandler(CSRFError)
    def refused(exc: CSRFError) -> tuple[str, int]:
        return f"refused: {exc.description}", 400

    @app.route("/form", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def form() -> str:
        return render_template_string("{{ csrf_token() }}")

    api = Blueprint("api", __name__)

    @api.post("/api/thing")
    def thing() -> str:
        return "made"

    app.register_blueprint(api)
    protection.exempt(api)
    return app


def _token(client: FlaskClient) -> str:
    return client.get("/form").get_data(as_text=True)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_state_change_without_a_token_is_refused(site: Flask, method: str) -> None:
    client = site.test_client()
    _token(client)
    response = client.open("/form", method=method)
    assert response.status_code == 400
    assert response.get_data(as_text=True) == "refused: The CSRF token is missing."


def test_the_form_field_or_either_header_is_accepted(site: Flask) -> None:
    client = site.test_client()
    token = _token(client)
    assert client.post("/form", data={"csrf_token": token}).status_code == 200
    assert client.post("/form", headers={"X-CSRFToken": token}).status_code == 200
    assert client.delete("/form", headers={"X-CSRF-Token": token}).status_code == 200


def test_one_token_per_request_and_the_same_secret_across_requests(site: Flask) -> None:
    client = site.test_client()
    first, second = _token(client), _token(client)
    assert client.post("/form", data={"csrf_token": first}).status_code == 200
    assert client.post("/form", data={"csrf_token": second}).status_code == 200


def test_reads_are_not_checked(site: Flask) -> None:
    assert site.test_client().get("/form").status_code == 200


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-token", "The CSRF token is invalid."),
        ("InRhbXBlcmVkIg.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb", "The CSRF token is invalid."),
    ],
)
def test_a_forged_token_is_refused(site: Flask, token: str, reason: str) -> None:
    client = site.test_client()
    _token(client)
    response = client.post("/form", data={"csrf_token": token})
    assert response.status_code == 400 and response.get_data(as_text=True) == f"refused: {reason}"


def test_another_sessions_token_is_refused(site: Flask) -> None:
    mine, theirs = site.test_client(), site.test_client()
    _token(mine)
    response = mine.post("/form", data={"csrf_token": _token(theirs)})
    assert response.get_data(as_text=True) == "refused: The CSRF tokens do not match."


def test_a_token_without_a_session_is_refused(site: Flask) -> None:
    token = _token(site.test_client())
    response = site.test_client().post("/form", data={"csrf_token": token})
    assert response.get_data(as_text=True) == "refused: The CSRF session token is missing."


def test_a_token_signed_with_another_key_is_refused(site: Flask) -> None:
    client = site.test_client()
    token = _token(client)
    site.config["SECRET_KEY"] = site.secret_key = "rotated"
    response = client.post("/form", data={"csrf_token": token})
    assert response.status_code == 400  # the session cookie itself no longer verifies either


def test_an_old_token_has_expired(site: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    client = site.test_client()
    token = _token(client)
    later = time.time() + 61
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    response = client.post("/form", data={"csrf_token": token})
    assert response.get_data(as_text=True) == "refused: The CSRF token has expired."


def test_an_exempt_blueprint_is_not_checked(site: Flask) -> None:
    assert site.test_client().post("/api/thing").get_data(as_text=True) == "made"


def test_unknown_paths_get_their_404(site: Flask) -> None:
    assert site.test_client().post("/nowhere").status_code == 404


def test_the_setting_turns_it_off(site: Flask) -> None:
    site.config["WTF_CSRF_ENABLED"] = False
    assert site.test_client().post("/form").status_code == 200


@pytest.mark.parametrize(
    ("referrer", "status", "reason"),
    [
        (None, 400, "The referrer header is missing."),
        ("https://evil.example/form", 400, "The referrer does not match the host."),
        ("http://localhost/form", 400, "The referrer does not match the host."),
        ("https://localhost/form", 200, ""),
    ],
)
def test_over_https_the_referrer_must_be_this_host(site: Flask, referrer: str | None, status: int, reason: str) -> None:
    client = site.test_client()
    token = client.get("/form", base_url="https://localhost").get_data(as_text=True)
    headers = {"Referer": referrer} if referrer else {}
    response = client.post("/form", base_url="https://localhost", data={"csrf_token": token}, headers=headers)
    assert response.status_code == status
    if reason:
        assert response.get_data(as_text=True) == f"refused: {reason}"
