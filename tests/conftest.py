"""Fixtures: a real database per test (in-memory SQLite, or PostgreSQL from TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import stamp, upgrade
from sqlalchemy import text

from config import TestConfig, normalize_database_url

# The emulated providers' fixtures, for every test folder.
from tests.emulation import emulators, google, microsoft, receiver  # noqa: F401, E402
from webapp import create_app
from webapp.extensions import db
from webapp.models import Project
from webapp.projects import service as projects
from webapp.rate_limits import limiter

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
# Settings a developer's shell may carry that must never reach a test app.
_ENV_TO_CLEAR = ("DATABASE_URL", "SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS", "APP_ENV")


def using_postgres() -> bool:
    return TEST_DATABASE_URL.startswith(("postgres://", "postgresql"))


requires_postgres = pytest.mark.skipif(
    not using_postgres(), reason="needs PostgreSQL (set TEST_DATABASE_URL); CI runs the suite on both"
)


@pytest.fixture(autouse=True)
def _reset_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)


def _database_overrides() -> dict[str, Any]:
    if using_postgres():
        return {"SQLALCHEMY_DATABASE_URI": normalize_database_url(TEST_DATABASE_URL)}
    return {}


def _prepare_postgres() -> None:
    """Run the real migrations once per session on an emptied database."""
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade()


def _empty_tables() -> None:
    if using_postgres():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="session")
def _session_app() -> Iterator[Flask]:
    """One app for the session: building one costs ~40 ms (URL rules compile), so tests share it."""
    app = create_app(TestConfig, **_database_overrides())
    with app.app_context():
        if using_postgres():
            _prepare_postgres()
        else:
            db.create_all()
            stamp()  # the schema is current, so commands that migrate first find nothing to do
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    """The shared app with empty tables; settings and keys a test changes are restored after it."""
    app = _session_app
    settings = dict(app.config)
    keyring = app.extensions["keyring"]
    with app.app_context():
        limiter.init_app(app)  # the one limiter follows the newest app; tests that build apps re-point it
        try:
            yield app
        finally:
            db.session.remove()
            _empty_tables()
            app.config.clear()
            app.config.update(settings)
            app.extensions["keyring"] = keyring


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def project_and_key(app: Flask) -> tuple[Project, str]:
    return projects.create_project(name="Acme")


@pytest.fixture
def project(project_and_key: tuple[Project, str]) -> Project:
    return project_and_key[0]


@pytest.fixture
def api_key(project_and_key: tuple[Project, str]) -> str:
    return project_and_key[1]


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    """Headers that authenticate as the test project."""
    return {"Authorization": f"Token {api_key}"}


@pytest.fixture
def other_auth(app: Flask) -> dict[str, str]:
    """Headers of a second, unrelated project."""
    _, key = projects.create_project(name="Other")
    return {"Authorization": f"Token {key}"}


VALID_CALENDAR: dict[str, Any] = {
    "platform": "google",
    "client_id": "123456789-abc.apps.googleusercontent.com",
    "client_secret": "GOCSPX-secret-value",
    "refresh_token": "1//04refresh-token-value",
    "metadata": {"tenant_id": "1234567890"},
    "deduplication_key": "user-abcd",
}


@pytest.fixture
def make_calendar(client: FlaskClient, auth: dict[str, str]) -> Any:
    """Create a calendar through the API; returns its JSON."""

    def make(**fields: Any) -> dict[str, Any]:
        body = {k: v for k, v in {**VALID_CALENDAR, **fields}.items() if v is not None}
        response = client.post("/api/v1/calendars", json=body, headers=auth)
        assert response.status_code == 201, response.get_json()
        data: dict[str, Any] = response.get_json()
        return data

    return make
