"""CSRF protection for every browser form (the onboarding pages and the dashboard).

Each session holds a random secret; pages embed it signed and timestamped (``{{ csrf_token() }}``
in a hidden ``csrf_token`` field, or an ``X-CSRFToken`` header from scripts), and every POST, PUT,
PATCH or DELETE must bring back a signature of that same secret, younger than
``WTF_CSRF_TIME_LIMIT`` seconds. Over HTTPS the Referer must also be this host
(``WTF_CSRF_SSL_STRICT``). Blueprints that authenticate otherwise (the API by key, provider
notifications by channel secret) are exempted by name.

Its own module rather than Flask-WTF, which the service used only for this: that package also
loaded WTForms and its reCAPTCHA fields into every web worker (about 2 MB). The token format and
the setting names are Flask-WTF's, so forms rendered before the switch still post.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, request, session
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import BadRequest

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
HEADERS = ("X-CSRFToken", "X-CSRF-Token")
CHECKED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SALT = "wtf-csrf-token"  # Flask-WTF's: tokens it signed stay valid


class CSRFError(BadRequest):
    """A state-changing browser request without a valid token (rendered by ``error_handlers``)."""

    description = "The CSRF token is invalid."


class CSRFProtect:
    def __init__(self) -> None:
        self._exempt_blueprints: set[str] = set()

    def init_app(self, app: Flask) -> None:
        app.config.setdefault("WTF_CSRF_ENABLED", True)
        app.config.setdefault("WTF_CSRF_TIME_LIMIT", 3600)
        app.config.setdefault("WTF_CSRF_SSL_STRICT", True)
        app.jinja_env.globals["csrf_token"] = generate_token
        app.before_request(self._protect)

    def exempt(self, blueprint: Blueprint) -> Blueprint:
        """Leave this blueprint's views unchecked (its own name only: not blueprints nested in it)."""
        self._exempt_blueprints.add(blueprint.name)
        return blueprint

    def _protect(self) -> None:
        if not current_app.config["WTF_CSRF_ENABLED"] or request.method not in CHECKED_METHODS:
            return
        if request.endpoint is None or request.blueprint in self._exempt_blueprints:
            return  # no view (a 404 follows), or a view authenticated otherwise
        validate_token(_submitted_token())
        if request.is_secure and current_app.config["WTF_CSRF_SSL_STRICT"]:
            referrer = request.referrer
            if not referrer:
                raise CSRFError("The referrer header is missing.")
            if not _same_origin(referrer, f"https://{request.host}/"):
                raise CSRFError("The referrer does not match the host.")


def generate_token() -> str:
    """This session's secret, signed now (one token per request; the secret is made on first use)."""
    token: str | None = g.get("csrf_token")
    if token is None:
        secret = session.get(SESSION_KEY)
        if not isinstance(secret, str):
            secret = session[SESSION_KEY] = secrets.token_hex(20)  # 40 hex digits, as Flask-WTF's
        token = _serializer().dumps(secret)
        g.csrf_token = token
    return token


def validate_token(token: str | None) -> None:
    """:raises CSRFError: no token, no secret in the session, an expired, forged or foreign token."""
    if not token:
        raise CSRFError("The CSRF token is missing.")
    secret = session.get(SESSION_KEY)
    if not isinstance(secret, str):
        raise CSRFError("The CSRF session token is missing.")
    try:
        signed = _serializer().loads(token, max_age=current_app.config["WTF_CSRF_TIME_LIMIT"])
    except SignatureExpired:
        raise CSRFError("The CSRF token has expired.") from None
    except BadData:
        raise CSRFError("The CSRF token is invalid.") from None
    if not isinstance(signed, str) or not hmac.compare_digest(secret, signed):
        raise CSRFError("The CSRF tokens do not match.")


def _serializer() -> URLSafeTimedSerializer:
    if not current_app.secret_key:
        raise RuntimeError("SECRET_KEY is required to sign CSRF tokens")
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _submitted_token() -> str | None:
    token = request.form.get(FORM_FIELD)
    if token:
        return token
    for header in HEADERS:
        token = request.headers.get(header)
        if token:
            return token
    return None


def _same_origin(url: str, expected: str) -> bool:
    given, wanted = urlsplit(url), urlsplit(expected)
    return (given.scheme, given.hostname, given.port) == (wanted.scheme, wanted.hostname, wanted.port)


csrf = CSRFProtect()
