"""What every request pays for: the hooks an API request runs, and that the ones moved still work.

Flask-Limiter's three app-wide hooks, Flask-Login's remember-cookie hook and Flask-SQLAlchemy's
second session teardown are not run for API requests (README, "Performance"); CSRF, metrics, the
request id, the NUL guard and authentication are.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.testing import FlaskClient

from tests.dashboard.conftest import log_in
from webapp.models import AdminUser


def _names(functions: list[Any]) -> list[str]:
    return [
        getattr(f, "__qualname__", None) or getattr(getattr(f, "func", None), "__qualname__", repr(f))
        for f in functions
    ]


def test_the_hooks_of_an_api_request(app: Flask) -> None:
    assert _names(app.before_request_funcs[None]) == [
        "_start_request",  # request id and start time (metrics)
        "refuse_nul_bytes",
        "CSRFProtect.init_app.<locals>.csrf_protect",  # app-wide: every form is protected by default
        "authenticate_api_request",
    ]
    assert _names(app.before_request_funcs["api"]) == ["refuse_impossible_ids"]
    assert _names(app.after_request_funcs[None]) == ["_finish_request", "add_security_headers"]
    assert "api" not in app.after_request_funcs
    assert _names(app.teardown_request_funcs[None]) == ["release"]
    assert _names(app.teardown_appcontext_funcs) == ["release", "end_session"]
    assert _names(app.after_request_funcs["dashboard"]) == ["no_store", "LoginManager._update_remember_cookie"]


def test_an_api_answer_does_not_vary_by_cookie(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/calendars", headers=auth)
    assert response.status_code == 200
    assert "Vary" not in response.headers and "Set-Cookie" not in response.headers


def test_logout_still_clears_a_remember_cookie(app: Flask, client: FlaskClient, admin: AdminUser) -> None:
    """Flask-Login's hook runs on the dashboard, where login_user and logout_user are called."""
    assert log_in(client).status_code == 302
    client.set_cookie("remember_token", "old", domain="localhost")
    response = client.post("/dashboard/logout")
    cleared = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert cleared and "Expires=Thu, 01 Jan 1970" in cleared[0]


def test_a_session_cookie_is_still_read(client: FlaskClient, admin: AdminUser) -> None:
    assert log_in(client).status_code == 302
    g.pop("_login_user", None)  # the test's app context outlives requests: forget the user it loaded
    assert client.get("/dashboard/").status_code == 200  # the login is in the signed session cookie
    client.delete_cookie("session", domain="localhost")
    g.pop("_login_user", None)
    assert client.get("/dashboard/").status_code == 302  # without it, to the login page
