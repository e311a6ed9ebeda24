"""Settings: class defaults, then the environment under the names the README lists.

Nothing here raises at import. ``load_settings`` is called by the app factory with the
instance folder, so development secrets can be generated once and kept there.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent

# Settings read from the environment as plain strings (name -> default).
_STRING_SETTINGS: dict[str, str] = {
    "GOOGLE_AUTHORIZE_URL": "https://accounts.google.com/o/oauth2/v2/auth",
    "GOOGLE_TOKEN_URL": "https://oauth2.googleapis.com/token",
    "GOOGLE_REVOKE_URL": "https://oauth2.googleapis.com/revoke",
    "GOOGLE_USERINFO_URL": "https://openidconnect.googleapis.com/v1/userinfo",
    "GOOGLE_JWKS_URL": "https://www.googleapis.com/oauth2/v3/certs",
    "GOOGLE_CALENDAR_API_URL": "https://www.googleapis.com/calendar/v3",
    "MICROSOFT_LOGIN_URL": "https://login.microsoftonline.com",
    "MICROSOFT_TENANT": "common",
    "MICROSOFT_GRAPH_URL": "https://graph.microsoft.com/v1.0",
    "RATELIMIT_STORAGE_URI": "memory://",
    "API_CREATE_RATE_LIMIT": "3000 per minute",
    "CONNECT_SESSION_RATE_LIMIT": "600 per minute",
    "WEBHOOK_TEST_RATE_LIMIT": "60 per minute",
    "WEBHOOK_REDELIVER_RATE_LIMIT": "600 per minute",
    "CELERY_BROKER_URL": "",
    # Canonical public base URL (scheme://host[:port]) for links and OAuth callbacks; empty: the request's host.
    "PUBLIC_BASE_URL": "",
    # Instance-wide OAuth apps for the consent flow (a project's own OAuth app wins).
    "GOOGLE_CLIENT_ID": "",
    "GOOGLE_CLIENT_SECRET": "",
    "MICROSOFT_CLIENT_ID": "",
    "MICROSOFT_CLIENT_SECRET": "",
    # Operability (README, "Operating it"): log lines as text or JSON; /metrics off unless a token is set.
    "LOG_FORMAT": "text",
    "METRICS_TOKEN": "",
    "WORKER_METRICS_HOST": "0.0.0.0",
}

# Integer settings read from the environment (name -> default).
_INT_SETTINGS: dict[str, int] = {
    "SYNC_INTERVAL_MINUTES": 30,
    "SYNC_WINDOW_PAST_DAYS": 1,
    "SYNC_WINDOW_FUTURE_DAYS": 28,
    "SYNC_LEASE_SECONDS": 60,
    "SYNC_QUEUE_LIMIT": 200,
    "SYNC_CONCURRENCY": 16,
    "SYNC_TRANSIENT_RETRIES": 6,
    "SYNC_BACKOFF_BASE_SECONDS": 2,
    "SYNC_BACKOFF_MAX_SECONDS": 600,
    "SYNC_CONFIRM_FAILURES": 3,
    "SYNC_CONFIRM_SECONDS": 3600,
    "CONNECT_SESSION_TTL_SECONDS": 3600,
    "WEBHOOK_TIMEOUT_SECONDS": 10,
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "WEBHOOK_BACKOFF_BASE_SECONDS": 30,
    "WEBHOOK_BACKOFF_MAX_SECONDS": 3600,
    "WEBHOOK_PAUSE_AFTER_FAILURES": 5,
    "WEBHOOK_SECRET_ROTATION_HOURS": 24,
    "PUSH_RENEW_BEFORE_HOURS": 24,
    "PUSH_DEBOUNCE_SECONDS": 2,
    "MICROSOFT_SUBSCRIPTION_MAX_MINUTES": 4230,
    "DASHBOARD_STALE_HOURS": 24,
    # How long history is kept (days; 0 keeps it forever), pruned every minute (webapp.retention).
    "SYNC_ATTEMPT_RETENTION_DAYS": 14,
    "STATE_CHANGE_RETENTION_DAYS": 90,
    "WEBHOOK_DELIVERY_RETENTION_DAYS": 30,
    "CONNECT_SESSION_RETENTION_DAYS": 30,
    # Reverse proxies in front of the service whose X-Forwarded-* headers are believed (Werkzeug's
    # ProxyFix): 0 means none, and the socket's peer is the client.
    "TRUSTED_PROXY_COUNT": 0,
    "WORKER_STALE_SECONDS": 60,
    "WORKER_METRICS_PORT": 0,  # 0: a worker serves no metrics port (flask serve folds them into /metrics)
}

# Boolean settings read from the environment (name -> default).
_BOOL_SETTINGS: dict[str, bool] = {
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False,
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

# Secrets that production must be given explicitly.
REQUIRED_IN_PRODUCTION = ("DATABASE_URL", "SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS")

DEV_SECRETS_FILE = "dev-secrets.json"


class ConfigurationError(RuntimeError):
    """The service cannot start with the settings it was given."""


class Config:
    """Defaults of the settings that are not read from the environment.

    Every environment-backed setting gets its default from the tables above (set on this class
    just below), so each default is written exactly once.
    """

    APP_ENV = "development"
    SQLALCHEMY_DATABASE_URI: str | None = None
    # No pool_pre_ping: webapp.db.pool pings only connections that sat idle (a round trip saved per request).
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    SECRET_KEY: str | None = None
    CREDENTIALS_ENCRYPTION_KEYS: list[str] = []
    # Larger request bodies are refused with 413 before any parsing.
    MAX_CONTENT_LENGTH = 256 * 1024
    JSON_SORT_KEYS = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    TESTING = False


for _name, _default in {**_STRING_SETTINGS, **_INT_SETTINGS, **_BOOL_SETTINGS}.items():
    setattr(Config, _name, _default)


class TestConfig(Config):
    """Used by the test suite: in-memory SQLite and fixed keys, never the environment's database."""

    APP_ENV = "test"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SECRET_KEY = "test-secret-key-not-for-production"
    CREDENTIALS_ENCRYPTION_KEYS = ["l9l-U-TRlQpAjo9oOD5ZbZ8dbLDaQV6C0UU9Y8AwwoA="]
    WTF_CSRF_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    # Nothing consumes this broker: tests assert on the intent stored in the database.
    CELERY_BROKER_URL = "memory://"
    # The tests' webhook receiver listens on loopback.
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


def normalize_database_url(url: str) -> str:
    """Let the plain ``postgresql://`` form use the driver this project installs (psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def parse_keys(value: str) -> list[str]:
    """Split a comma-separated key list, dropping blanks."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _dev_secrets(instance_path: Path) -> dict[str, str]:
    """Development secrets, generated once and kept under ``instance/`` with owner-only access."""
    path = instance_path / DEV_SECRETS_FILE
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    instance_path.mkdir(parents=True, exist_ok=True)
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "CREDENTIALS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle)
    return generated


def push_base_url_problem(base_url: str) -> str | None:
    """Why push cannot be on with this ``PUBLIC_BASE_URL`` (None: it can).

    Google and Microsoft send notifications only to HTTPS addresses; a loopback host (the emulator,
    tests) may use plain http.
    """
    if not base_url:
        return "PUBLIC_BASE_URL is not set, so providers cannot reach the service"
    parts = urlsplit(base_url)
    if parts.scheme == "https":
        return None
    host = (parts.hostname or "").lower()
    try:
        loopback = host == "localhost" or host.endswith(".localhost") or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and loopback:
        return None
    return (
        f"PUBLIC_BASE_URL ({base_url}) is not an https:// URL, and Google and Microsoft send push "
        "notifications only to HTTPS addresses"
    )


def _parse_bool(name: str, raw: str, default: bool) -> bool:
    value = raw.strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def load_settings(environ: dict[str, str] | os._Environ[str], instance_path: Path) -> dict[str, Any]:
    """Read the environment into config values; raise ConfigurationError when production lacks secrets."""
    app_env = environ.get("APP_ENV", "development").strip() or "development"
    settings: dict[str, Any] = {"APP_ENV": app_env}
    if app_env == "production":
        missing = [name for name in REQUIRED_IN_PRODUCTION if not environ.get(name, "").strip()]
        if missing:
            raise ConfigurationError(
                "APP_ENV=production needs these settings, which are missing or empty: " + ", ".join(missing)
            )
    database_url = environ.get("DATABASE_URL", "").strip()
    if database_url:
        settings["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(database_url)
    else:
        settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_path / 'app.db'}"
    secret_key = environ.get("SECRET_KEY", "").strip()
    keys = parse_keys(environ.get("CREDENTIALS_ENCRYPTION_KEYS", ""))
    if not secret_key or not keys:
        dev = _dev_secrets(instance_path)
        secret_key = secret_key or dev["SECRET_KEY"]
        keys = keys or parse_keys(dev["CREDENTIALS_ENCRYPTION_KEYS"])
    settings["SECRET_KEY"] = secret_key
    settings["CREDENTIALS_ENCRYPTION_KEYS"] = keys
    for name, default in _STRING_SETTINGS.items():
        settings[name] = environ.get(name, "").strip() or default
    settings["LOG_FORMAT"] = settings["LOG_FORMAT"].lower()
    if settings["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigurationError(f"LOG_FORMAT must be text or json, got {settings['LOG_FORMAT']!r}")
    for name, number in _INT_SETTINGS.items():
        raw = environ.get(name, "").strip()
        if raw and not raw.isdigit():
            raise ConfigurationError(f"{name} must be a whole number, got {raw!r}")
        settings[name] = int(raw) if raw else number
    for name, flag in _BOOL_SETTINGS.items():
        settings[name] = _parse_bool(name, environ.get(name, ""), flag)
    if app_env == "production":
        settings["SESSION_COOKIE_SECURE"] = True
        base_url = settings["PUBLIC_BASE_URL"]
        if base_url and (problem := push_base_url_problem(base_url)):
            raise ConfigurationError(f"{problem}: use https:// (a TLS-terminating proxy in front is fine).")
    return settings
