"""Configuration from the environment: development defaults, production refusal, URL forms."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import webapp
from config import ConfigurationError, TestConfig, load_settings, normalize_database_url, push_base_url_problem
from webapp import create_app
from webapp.push.service import push_enabled


def test_fresh_machine_generates_development_secrets_once(tmp_path: Path) -> None:
    first = load_settings({}, tmp_path)
    second = load_settings({}, tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["CREDENTIALS_ENCRYPTION_KEYS"] == second["CREDENTIALS_ENCRYPTION_KEYS"]
    Fernet(first["CREDENTIALS_ENCRYPTION_KEYS"][0])  # a usable key
    secrets_file = tmp_path / "dev-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert set(json.loads(secrets_file.read_text())) == {"SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS"}
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'app.db'}"


def test_production_refuses_to_start_and_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        load_settings({"APP_ENV": "production", "SECRET_KEY": "x"}, tmp_path)
    message = str(excinfo.value)
    assert "DATABASE_URL" in message and "CREDENTIALS_ENCRYPTION_KEYS" in message
    assert "SECRET_KEY" not in message.split(":", 1)[1]
    assert not (tmp_path / "dev-secrets.json").exists()


def test_production_with_every_value_starts(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    settings = load_settings(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "s" * 40,
            "CREDENTIALS_ENCRYPTION_KEYS": f"{key}, {Fernet.generate_key().decode()}",
            "DATABASE_URL": "postgresql://user@db.example:5432/cal",
        },
        tmp_path,
    )
    assert settings["CREDENTIALS_ENCRYPTION_KEYS"][0] == key
    assert len(settings["CREDENTIALS_ENCRYPTION_KEYS"]) == 2
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://user@db.example:5432/cal"
    assert settings["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://user@host:5432/db", "postgresql+psycopg://user@host:5432/db"),
        ("postgres://user@host/db", "postgresql+psycopg://user@host/db"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_provider_endpoints_default_to_the_real_ones_and_follow_the_environment(tmp_path: Path) -> None:
    defaults = load_settings({}, tmp_path)
    assert defaults["GOOGLE_CALENDAR_API_URL"] == "https://www.googleapis.com/calendar/v3"
    assert defaults["MICROSOFT_TENANT"] == "common"
    changed = load_settings({"GOOGLE_TOKEN_URL": "http://127.0.0.2:9/token"}, tmp_path)
    assert changed["GOOGLE_TOKEN_URL"] == "http://127.0.0.2:9/token"


def test_app_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert (tmp_path / "dev-secrets.json").exists()


def test_a_malformed_key_stops_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CREDENTIALS_ENCRYPTION_KEYS", "not-a-key")
    with pytest.raises(ConfigurationError, match="key 1 is not a valid Fernet key"):
        create_app()


@pytest.mark.parametrize(
    ("base_url", "push_on"),
    [
        ("https://calendar.example.com", True),
        ("http://calendar.example.com", False),
        ("http://127.0.0.1:8000", True),
        ("http://127.0.0.2:8002", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("ftp://calendar.example.com", False),
        ("", False),
    ],
)
def test_push_needs_an_https_base_url_except_on_loopback(base_url: str, push_on: bool) -> None:
    assert (push_base_url_problem(base_url) is None) is push_on
    app = create_app(TestConfig, migrations=False, PUBLIC_BASE_URL=base_url)
    with app.app_context():
        assert push_enabled() is push_on


def test_production_refuses_a_plain_http_base_url(tmp_path: Path) -> None:
    secrets = {
        "APP_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "CREDENTIALS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": "postgresql://user@db.example:5432/cal",
    }
    with pytest.raises(ConfigurationError, match=r"PUBLIC_BASE_URL \(http://calendar.example.com\).*https://"):
        load_settings({**secrets, "PUBLIC_BASE_URL": "http://calendar.example.com"}, tmp_path)
    assert load_settings({**secrets, "PUBLIC_BASE_URL": "https://calendar.example.com"}, tmp_path)
    assert load_settings(secrets, tmp_path)["PUBLIC_BASE_URL"] == ""  # no base URL: push off, polling


def test_development_says_once_why_push_stays_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(webapp, "_push_reported", False)
    with caplog.at_level(logging.WARNING, logger="webapp.push"):
        create_app(TestConfig, migrations=False, PUBLIC_BASE_URL="http://calendar.example.com")
        create_app(TestConfig, migrations=False, PUBLIC_BASE_URL="http://calendar.example.com")
    said = [r.getMessage() for r in caplog.records if r.name == "webapp.push"]
    assert len(said) == 1 and "stay off" in said[0] and "HTTPS" in said[0]
