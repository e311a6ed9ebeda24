"""Authlib clients for the consent flow, built per request from the project's own credentials.

Never a cached global registry: project B's users must not consent to project A's app (providers.md 5).
Token-endpoint errors are classified from the raw JSON, which ``OAuthError`` would drop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import current_app, g, request
from flask.typing import ResponseReturnValue
from joserfc.errors import JoseError

from webapp.connect.apps import AppCredentials
from webapp.models import Platform
from webapp.providers.failures import (
    Failure,
    ProviderFailure,
    classify_google_token_error,
    classify_microsoft_token_error,
    failure_for,
    network_failure,
)

log = logging.getLogger(__name__)

GOOGLE_SCOPES = "openid email https://www.googleapis.com/auth/calendar.readonly"
MICROSOFT_SCOPES = "openid email offline_access User.Read Calendars.Read"
GOOGLE_CALENDAR_SCOPES = frozenset(
    {"https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/calendar"}
)
MICROSOFT_CALENDAR_SCOPES = frozenset({"calendars.read", "calendars.readwrite"})
HTTP_TIMEOUT = 15
_RAW_ERROR = "onboarding_raw_token_error"


@dataclass(frozen=True)
class Grant:
    """What a successful callback yields: the refresh token and the account that consented."""

    refresh_token: str
    account_email: str | None


def build_client(credentials: AppCredentials) -> FlaskOAuth2App:
    """A fresh Authlib client for these credentials (state lives in the Flask session under its name)."""
    config = current_app.config
    common: dict[str, Any] = {
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "compliance_fix": _capture_raw_token_errors,
    }
    if credentials.platform is Platform.GOOGLE:
        return FlaskOAuth2App(
            FlaskIntegration("google"),
            name="google",
            authorize_url=config["GOOGLE_AUTHORIZE_URL"],
            access_token_url=config["GOOGLE_TOKEN_URL"],
            authorize_params={"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"},
            client_kwargs={"scope": GOOGLE_SCOPES, "code_challenge_method": "S256", "default_timeout": HTTP_TIMEOUT},
            jwks_uri=config["GOOGLE_JWKS_URL"],
            userinfo_endpoint=config["GOOGLE_USERINFO_URL"],
            id_token_signing_alg_values_supported=["RS256"],
            **common,
        )
    login = microsoft_login_base()
    tenant = credentials.tenant or "common"
    return FlaskOAuth2App(
        FlaskIntegration("microsoft"),
        name="microsoft",
        authorize_url=f"{login}/{tenant}/oauth2/v2.0/authorize",
        access_token_url=f"{login}/{tenant}/oauth2/v2.0/token",
        client_kwargs={"scope": MICROSOFT_SCOPES, "code_challenge_method": "S256", "default_timeout": HTTP_TIMEOUT},
        jwks_uri=f"{login}/{tenant}/discovery/v2.0/keys",
        id_token_signing_alg_values_supported=["RS256"],
        **common,
    )


def authorize_redirect(
    credentials: AppCredentials, *, redirect_uri: str, state: str, login_hint: str | None
) -> ResponseReturnValue:
    """Redirect to the provider's consent page (state, PKCE S256 and nonce are kept by Authlib)."""
    extra: dict[str, str] = {"state": state}
    if login_hint:
        extra["login_hint"] = login_hint
    response: ResponseReturnValue = build_client(credentials).authorize_redirect(redirect_uri, **extra)
    return response


def google_issuers() -> list[str]:
    """Google's issuer is the authorize host (``https://accounts.google.com``), with and without scheme."""
    parts = urlsplit(str(current_app.config["GOOGLE_AUTHORIZE_URL"]))
    origin = f"{parts.scheme}://{parts.netloc}"
    return [origin, parts.netloc]


def microsoft_login_base() -> str:
    return str(current_app.config["MICROSOFT_LOGIN_URL"]).rstrip("/")


def microsoft_issuer_ok(claims: Any, value: Any, *, login_base: str, tenant: str | None) -> bool:
    """``iss`` must be the token's own tenant's issuer (the discovery issuer is a template for
    ``common``); a project pinned to one tenant GUID also needs ``tid`` to be that tenant."""
    tid = claims.get("tid")
    if not isinstance(tid, str) or not tid or not isinstance(value, str):
        return False
    if tenant and tenant not in ("common", "organizations", "consumers") and "." not in tenant and tid != tenant:
        return False
    return value == f"{login_base}/{tid}/v2.0"


def finish_authorization(credentials: AppCredentials) -> Grant:
    """Exchange the code of the current callback request and check what came back.

    :raises ProviderFailure: denied consent, spent code, provider down, no refresh token, no calendar scope.
    :raises MismatchingStateError: Authlib found no state record in the session.
    """
    platform = credentials.platform
    error = request.args.get("error")
    if error:
        raise ProviderFailure(_authorize_error(platform, error, request.args.get("error_description")))
    client = build_client(credentials)
    g.pop(_RAW_ERROR, None)
    try:
        token = client.authorize_access_token(claims_options=_claims_options(credentials), leeway=120)
    except MismatchingStateError:
        raise
    except OAuthError as exc:
        raise ProviderFailure(_token_failure(platform, exc)) from None
    except requests.HTTPError as exc:
        raise ProviderFailure(_token_failure(platform, exc)) from None
    except requests.RequestException as exc:
        raise ProviderFailure(network_failure(platform, exc)) from None
    except (ValueError, JoseError) as exc:  # a token response that is not JSON, or an ID token that fails
        log.warning("Rejected %s token response: %s", platform, type(exc).__name__)
        raise ProviderFailure(failure_for("request_invalid", platform)) from None
    refresh_token = token.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token.strip():
        raise ProviderFailure(failure_for("credentials_missing", platform))
    if not _calendar_scope_granted(platform, token.get("scope")):
        raise ProviderFailure(failure_for("scope_insufficient", platform))
    return Grant(refresh_token=refresh_token, account_email=_account_email(client, platform, token))


def _claims_options(credentials: AppCredentials) -> dict[str, Any]:
    audience = {"essential": True, "values": [credentials.client_id]}
    if credentials.platform is Platform.GOOGLE:
        return {"iss": {"essential": True, "values": google_issuers()}, "aud": audience}
    login_base = microsoft_login_base()
    tenant = credentials.tenant

    def validate(claims: Any, value: Any) -> bool:
        return microsoft_issuer_ok(claims, value, login_base=login_base, tenant=tenant)

    return {"iss": {"essential": True, "validate": validate}, "aud": audience}


def _capture_raw_token_errors(session: Any) -> None:
    """Keep the raw JSON of a failed token response: OAuthError keeps only error and description."""

    def keep(response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            g.setdefault(_RAW_ERROR, (response.status_code, body, dict(response.headers)))
        return response

    session.register_compliance_hook("access_token_response", keep)


def _classify(platform: Platform, status: int | None, body: Any, headers: Any) -> Failure:
    if platform is Platform.GOOGLE:
        return classify_google_token_error(status, body, headers, code_exchange=True)
    return classify_microsoft_token_error(status, body, headers)


def _token_failure(platform: Platform, exc: Exception) -> Failure:
    raw = g.pop(_RAW_ERROR, None)
    if raw is not None:
        return _classify(platform, *raw)
    if isinstance(exc, OAuthError):
        return _classify(platform, None, {"error": exc.error}, None)
    return failure_for("provider_unavailable", platform)


def _authorize_error(platform: Platform, error: str, description: str | None) -> Failure:
    """An error on the redirect back (``?error=access_denied``...). Microsoft's only machine-readable
    detail there is the AADSTS number, so that number (never the text) is taken from the description."""
    body: dict[str, Any] = {"error": error}
    if platform is Platform.MICROSOFT and description:
        head = description.split(":", 1)[0].strip()
        if head.startswith("AADSTS") and head[6:].isdigit():
            body["error_codes"] = [int(head[6:])]
    failure = _classify(platform, None, body, None)
    if failure.code in ("unknown_error", "request_invalid") and error == "access_denied":
        return failure_for("access_denied", platform)
    return failure


def _calendar_scope_granted(platform: Platform, scope: Any) -> bool:
    if not isinstance(scope, str):
        return False
    granted = scope.split()
    if platform is Platform.GOOGLE:
        return any(s in GOOGLE_CALENDAR_SCOPES for s in granted)
    return any(s.rsplit("/", 1)[-1].lower() in MICROSOFT_CALENDAR_SCOPES for s in granted)


def _account_email(client: FlaskOAuth2App, platform: Platform, token: dict[str, Any]) -> str | None:
    """Google: the validated ID token's email, else userinfo. Microsoft: Graph ``/me`` mail, else
    userPrincipalName, else the ID token's email or preferred_username (display only)."""
    claims = token.get("userinfo") or {}
    if platform is Platform.GOOGLE:
        email = claims.get("email")
        if isinstance(email, str) and email:
            return email
        try:
            info = client.userinfo(token=token)
        except (requests.RequestException, OAuthError, ValueError):
            return None
        found = info.get("email")
        return found if isinstance(found, str) and found else None
    graph = str(current_app.config["MICROSOFT_GRAPH_URL"]).rstrip("/")
    try:
        with requests.get(
            f"{graph}/me",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=HTTP_TIMEOUT,
        ) as response:
            me = response.json() if response.ok else {}
    except (requests.RequestException, ValueError):
        me = {}
    for value in (me.get("mail"), me.get("userPrincipalName"), claims.get("email"), claims.get("preferred_username")):
        if isinstance(value, str) and value:
            return value
    return None
