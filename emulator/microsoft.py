"""Emulated Microsoft: identity platform v2.0 (``/{tenant}/oauth2/v2.0/``) and Graph v1.0 (``/v1.0``)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from flask import Flask, Response, jsonify, request

from emulator import oauth
from emulator.common import (
    base_url,
    control_blueprint,
    deliver,
    get_state,
    https_or_loopback,
    json_error,
    jwks,
    make_app,
    sign_jwt,
)
from emulator.state import (
    MSA_TENANT_ID,
    AccessToken,
    AuthCode,
    Calendar,
    Event,
    ProviderState,
    RefreshToken,
    Subscription,
    decode_opaque,
    encode_opaque,
    isoformat_z,
    new_token,
    parse_datetime,
)

GRAPH = "https://graph.microsoft.com/"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
CODE_LIFETIME = timedelta(minutes=10)
DELTA_UNSUPPORTED = ("$select", "$expand", "$filter", "$orderby", "$search", "$top")

# code -> (error, suberror, message)
AADSTS: dict[int, tuple[str, str | None, str]] = {
    50173: (
        "invalid_grant",
        None,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
        "The user might have changed or reset their password.",
    ),
    65001: (
        "invalid_grant",
        "consent_required",
        "The user or administrator has not consented to use the application. "
        "Send an interactive authorization request for this user and resource.",
    ),
    50076: (
        "invalid_grant",
        "basic_action",
        "Due to a configuration change made by your administrator, or because you moved to a new location, "
        "you must use multi-factor authentication to access the resource.",
    ),
    50079: (
        "interaction_required",
        None,
        "Due to a configuration change made by your administrator, or because you moved to a new location, "
        "you must enroll in multi-factor authentication to access the resource.",
    ),
    53003: ("invalid_grant", None, "Access has been blocked by Conditional Access policies."),
    70043: (
        "invalid_grant",
        None,
        "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.",
    ),
    70000: ("invalid_grant", None, "Provided grant is invalid or malformed."),
    70008: (
        "invalid_grant",
        None,
        "The provided authorization code or refresh token has expired due to inactivity. "
        "Send a new interactive authorization request for this user and resource.",
    ),
    700082: (
        "invalid_grant",
        None,
        "The refresh token has expired due to inactivity. The token was issued on {issued} "
        "and was inactive for 90.00:00:00.",
    ),
    700084: (
        "invalid_grant",
        None,
        "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime "
        "of 1.00:00:00, which cannot be extended.",
    ),
    54005: (
        "invalid_grant",
        None,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
        "or use an existing refresh token.",
    ),
    700005: (
        "invalid_grant",
        None,
        "Provided Authorization Code is intended to use against other tenant, thus rejected.",
    ),
    50148: (
        "invalid_grant",
        None,
        "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
    ),
    7000215: (
        "invalid_client",
        None,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
        "value, not the client secret ID, for a secret added to app '{app}'.",
    ),
    7000218: (
        "invalid_client",
        None,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
    7000222: ("invalid_client", None, "The provided client secret keys for app '{app}' are expired."),
    700016: (
        "unauthorized_client",
        None,
        "Application with identifier '{app}' was not found in the directory '{tenant}'.",
    ),
    50194: (
        "invalid_request",
        None,
        "Application '{app}' is not configured as a multi-tenant application. Usage of the /common endpoint "
        "is not supported for such applications created after '10/15/2018'.",
    ),
    9002332: (
        "invalid_request",
        None,
        "Application '{app}' is configured for use by Microsoft Entra users only. "
        "Please do not use the /consumers endpoint to serve this request.",
    ),
    90094: ("invalid_grant", None, "Admin consent is required for the permissions requested by this application."),
    50011: (
        "invalid_request",
        None,
        "The redirect URI '{redirect}' specified in the request does not match the redirect URIs configured "
        "for the application '{app}'.",
    ),
    900144: ("invalid_request", None, "The request body must contain the following parameter: '{param}'."),
    70011: ("invalid_scope", None, "The provided value for the input parameter 'scope' is not valid."),
    65004: ("access_denied", None, "User declined to consent to access the app."),
    9002313: ("invalid_request", None, "Invalid request. Request is malformed or invalid."),
    50058: ("interaction_required", None, "A silent sign-in request was sent but no user is signed in."),
}


def create_microsoft_app(state: ProviderState | None = None) -> Flask:
    app = make_app(__name__, "microsoft", state)
    rule = app.add_url_rule
    rule("/<tenant>/v2.0/.well-known/openid-configuration", "discovery", discovery, methods=["GET"])
    rule("/<tenant>/discovery/v2.0/keys", "jwks", keys, methods=["GET"])
    rule("/<tenant>/oauth2/v2.0/authorize", "authorize", authorize, methods=["GET", "POST"])
    rule("/<tenant>/oauth2/v2.0/token", "token", token, methods=["POST"])
    rule("/oidc/userinfo", "userinfo", userinfo, methods=["GET"])
    rule("/v1.0/me", "me", me, methods=["GET"])
    rule("/v1.0/me/calendar", "calendar", calendar_get, methods=["GET"])
    rule("/v1.0/me/calendars", "calendars", calendars_list, methods=["GET"])
    rule("/v1.0/me/calendars/<calendar_id>", "calendar_by_id", calendar_get, methods=["GET"])
    rule("/v1.0/me/calendarView", "calendar_view", calendar_view, methods=["GET"])
    rule("/v1.0/me/calendar/calendarView", "calendar_view_default", calendar_view, methods=["GET"])
    rule("/v1.0/me/calendars/<calendar_id>/calendarView", "calendar_view_by_id", calendar_view, methods=["GET"])
    rule("/v1.0/me/calendarView/delta", "delta", delta, methods=["GET"])
    rule("/v1.0/me/events/<event_id>", "event_get", event_get, methods=["GET"])
    rule("/v1.0/subscriptions", "subscriptions_create", subscriptions_create, methods=["POST"])
    rule("/v1.0/subscriptions/<sub_id>", "subscription_get", subscription_get, methods=["GET"])
    rule("/v1.0/subscriptions/<sub_id>", "subscription_update", subscription_update, methods=["PATCH"])
    rule("/v1.0/subscriptions/<sub_id>", "subscription_delete", subscription_delete, methods=["DELETE"])
    rule(
        "/v1.0/subscriptions/<sub_id>/reauthorize",
        "subscription_reauthorize",
        subscription_reauthorize,
        methods=["POST"],
    )
    bp = control_blueprint(_preset, _notify_changes)
    bp.add_url_rule("/notify", "notify", control_notify, methods=["POST"])
    app.register_blueprint(bp)
    return app


# -- errors -------------------------------------------------------------------------------------


def aadsts_body(code: int, **fmt: str) -> tuple[int, dict[str, Any]]:
    """The token endpoint's full error JSON for an AADSTS code (HTTP 401 for invalid_client)."""
    error, suberror, message = AADSTS.get(code, ("invalid_grant", None, "Unknown error."))
    values = {"app": "", "tenant": "", "redirect": "", "param": "", "issued": ""}
    values.update(fmt)
    message = message.format(**values)
    now = get_state().now()
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    body: dict[str, Any] = {
        "error": error,
        "error_description": f"AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} "
        f"Timestamp: {now.strftime('%Y-%m-%d %H:%M:%S')}Z",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{base_url()}/error?code={code}",
    }
    if suberror:
        body["suberror"] = suberror
    return (401 if error == "invalid_client" else 400), body


def aadsts(code: int, **fmt: str) -> Response:
    status, body = aadsts_body(code, **fmt)
    return json_error(status, body)


def graph_error_body(code: str, message: str) -> dict[str, Any]:
    now = get_state().now()
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


def graph_error(status: int, code: str, message: str) -> Response:
    return json_error(status, graph_error_body(code, message))


GRAPH_PRESETS: dict[str, tuple[int, str, str]] = {
    "throttled": (429, "TooManyRequests", "Please retry again later."),
    "access_denied": (403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    "mailbox_inactive": (
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    ),
    "tenant_lapsed": (
        401,
        "InvalidAuthenticationToken",
        "The ... subscription within the tenant has lapsed, or that the administrator for this tenant "
        "has disabled the application",
    ),
    "invalid_token": (401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    "not_found": (404, "ErrorItemNotFound", "The specified object was not found in the store."),
    "sync_state_not_found": (400, "syncStateNotFound", "The sync state generation is not found."),
    "service_unavailable": (503, "ServiceUnavailable", "The service is temporarily unavailable."),
    "internal_error": (500, "InternalServerError", "An internal server error occurred."),
    "gateway_timeout": (504, "GatewayTimeout", "The gateway timed out."),
}


def _preset(data: dict[str, Any]) -> tuple[int, Any] | None:
    if data.get("aadsts") is not None:
        return aadsts_body(int(data["aadsts"]), app=str(data.get("app", "")))
    name = str(data.get("preset") or "")
    if name == "temporarily_unavailable":
        status, body = aadsts_body(9002313)
        body["error"] = "temporarily_unavailable"
        body["error_codes"] = [90033]
        body["error_description"] = "AADSTS90033: A transient error has occurred. Please try again."
        return 503, body
    if name in GRAPH_PRESETS:
        status, code, message = GRAPH_PRESETS[name]
        body = graph_error_body(code, message)
        if status == 429:
            body["error"]["innerError"].update({"code": "429", "message": "Please retry after", "status": "429"})
        return status, body
    return None


# -- identity -----------------------------------------------------------------------------------


def _issuer(tenant: str) -> str:
    if tenant in ("common", "organizations"):
        return f"{base_url()}/{{tenantid}}/v2.0"
    if tenant == "consumers":
        return f"{base_url()}/{MSA_TENANT_ID}/v2.0"
    return f"{base_url()}/{tenant}/v2.0"


def discovery(tenant: str) -> Response:
    base = base_url()
    return jsonify(
        {
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": _issuer(tenant),
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "name", "tid", "oid", "email"],
            "tenant_region_scope": None,
            "code_challenge_methods_supported": ["plain", "S256"],
        }
    )


def keys(tenant: str) -> Response:
    del tenant
    return jsonify(jwks(get_state()))


def normalize_scopes(raw: str) -> list[str]:
    result: list[str] = []
    for scope in raw.split():
        if scope.lower() in OIDC_SCOPES:
            scope = scope.lower()
        elif not scope.startswith("https://"):
            scope = GRAPH + scope
        if scope not in result:
            result.append(scope)
    return result


def _tenant_users(tenant: str) -> list[Any]:
    users = list(get_state().users.values())
    if tenant == "consumers":
        return [u for u in users if u.tid == MSA_TENANT_ID]
    if tenant == "organizations":
        return [u for u in users if u.tid != MSA_TENANT_ID]
    if tenant == "common":
        return users
    return [u for u in users if u.tid == tenant]


def authorize(tenant: str) -> Response:
    state = get_state()
    params = oauth.request_params()
    client_id = params.get("client_id", "")
    client = state.clients.get(client_id)
    if client is None or client.deleted:
        _, body = aadsts_body(700016, app=client_id, tenant=tenant)
        return oauth.error_page(400, "unauthorized_client", body["error_description"])
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        _, body = aadsts_body(50011, app=client_id, redirect=redirect_uri)
        return oauth.error_page(400, "invalid_request", body["error_description"])
    back = params.get("state")
    mode = params.get("response_mode", "query")

    def reply(values: dict[str, str | None]) -> Response:
        values = {**values, "state": back}
        if mode == "form_post":
            return oauth.form_post(redirect_uri, values)
        return oauth.redirect_to(redirect_uri, values)

    def fail(code: int, error: str | None = None) -> Response:
        _, body = aadsts_body(code, app=client_id)
        return reply({"error": error or body["error"], "error_description": body["error_description"]})

    if params.get("response_type") != "code":
        return reply({"error": "unsupported_response_type", "error_description": "AADSTS70005: unsupported"})
    if mode not in ("query", "form_post"):
        return reply({"error": "invalid_request", "error_description": "AADSTS900144: response_mode"})
    scopes = normalize_scopes(params.get("scope", ""))
    if not scopes:
        return fail(900144)
    users = _tenant_users(tenant)
    if not users:
        return oauth.error_page(400, "no_accounts", "No accounts are seeded for this tenant in the emulator.")
    hint = params.get("login_hint")
    if params.get("prompt") == "none":
        return (
            fail(50058, "interaction_required") if hint not in state.users else _approve(params, tenant, hint, scopes)
        )
    if request.method == "GET" and not state.settings.auto_approve:
        return oauth.consent_page(
            provider_name="Microsoft",
            action=request.path,
            params=params,
            users=users,
            selected=hint,
            scopes=scopes,
            show_tenant=True,
        )
    if request.method == "POST":
        if request.form.get("decision") != "allow":
            return fail(65004, "access_denied")
        email = request.form.get("account", "")
        if email not in {u.email for u in users}:
            return oauth.error_page(400, "invalid_request", "Choose an account.")
        granted = [s for s in scopes if s in request.form.getlist("grant_scope")]
        return _approve(params, tenant, email, granted)
    chosen = hint if hint in {u.email for u in users} else users[0].email
    return _approve(params, tenant, str(chosen), scopes)


def _approve(params: dict[str, str], tenant: str, email: str, scopes: list[str]) -> Response:
    state = get_state()
    code = AuthCode(
        code="M." + new_token(nbytes=40),
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        user=email,
        scopes=scopes,
        created_at=state.now(),
        code_challenge=params.get("code_challenge"),
        code_challenge_method=params.get("code_challenge_method"),
        nonce=params.get("nonce"),
        issue_refresh="offline_access" in scopes,
        tenant=tenant,
    )
    with state.lock:
        state.codes[code.code] = code
    values: dict[str, str | None] = {"code": code.code, "state": params.get("state")}
    if params.get("response_mode") == "form_post":
        return oauth.form_post(params["redirect_uri"], values)
    return oauth.redirect_to(params["redirect_uri"], values)


def token(tenant: str) -> Response:
    state = get_state()
    client_id, secret, _method = oauth.client_credentials()
    if not client_id:
        return aadsts(900144, param="client_id")
    client = state.clients.get(client_id)
    if client is None or client.deleted:
        return aadsts(700016, app=client_id, tenant=tenant)
    if not secret:
        return aadsts(7000218)
    if secret != client.client_secret:
        return aadsts(7000215, app=client_id)
    grant_type = request.form.get("grant_type", "")
    if grant_type == "authorization_code":
        return _redeem(tenant, client_id)
    if grant_type == "refresh_token":
        return _refresh(client_id)
    status, body = aadsts_body(9002313)
    body["error"] = "unsupported_grant_type"
    return json_error(400, body)


def _redeem(tenant: str, client_id: str) -> Response:
    state = get_state()
    form = request.form
    with state.lock:
        code = state.codes.get(form.get("code", ""))
        if code is None or code.client_id != client_id:
            return aadsts(70000)
        if code.used:
            return aadsts(54005)
        if state.now() >= code.created_at + CODE_LIFETIME:
            return aadsts(70008)
        user = state.users[code.user]
        if tenant not in ("common", "organizations", "consumers") and tenant != user.tid:
            return aadsts(700005)
        if form.get("redirect_uri") != code.redirect_uri:
            return aadsts(50011, app=client_id, redirect=form.get("redirect_uri", ""))
        if code.code_challenge and not oauth.pkce_ok(
            code.code_challenge, code.code_challenge_method, form.get("code_verifier", "")
        ):
            return aadsts(50148)
        code.used = True
        refresh = _new_refresh(code.user, client_id, code.scopes, family=new_token(nbytes=8))
        if not code.issue_refresh:
            del state.refresh_tokens[refresh.token]
        access = _new_access(code.user, client_id, code.scopes, refresh.token if code.issue_refresh else None)
        return jsonify(_token_body(access, refresh if code.issue_refresh else None, code.nonce))


def _new_refresh(user: str, client_id: str, scopes: list[str], family: str) -> RefreshToken:
    state = get_state()
    token = RefreshToken(
        token="M.C5" + new_token(nbytes=60),
        user=user,
        client_id=client_id,
        scopes=list(scopes),
        issued_at=state.now(),
        family=family,
    )
    state.refresh_tokens[token.token] = token
    return token


def _new_access(user: str, client_id: str, scopes: list[str], refresh: str | None) -> AccessToken:
    lifetime = 3600 + (uuid.uuid4().int % 1800)
    return get_state().issue_access_token(user, client_id, scopes, lifetime, refresh, "EwB")


def _refresh(client_id: str) -> Response:
    state = get_state()
    raw = request.form.get("refresh_token")
    if not raw:
        return aadsts(900144, param="refresh_token")
    with state.lock:
        now = state.now()
        old = state.refresh_tokens.get(raw)
        if old is None or old.client_id != client_id:
            return aadsts(9002313)
        if old.revoked:
            return aadsts(50173)
        issued = old.issued_at.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        if now >= old.issued_at + timedelta(seconds=state.settings.ms_refresh_lifetime_seconds):
            return aadsts(700082, issued=issued)
        if old.superseded_at is not None:
            grace = state.settings.rotation_grace_seconds
            if state.settings.strict_rotation or (
                grace is not None and now >= old.superseded_at + timedelta(seconds=grace)
            ):
                return aadsts(700082, issued=issued)
        scopes = old.scopes
        if request.form.get("scope"):
            requested = normalize_scopes(request.form["scope"])
            if not set(requested) <= set(old.scopes):
                return aadsts(65001)
            scopes = requested
        old.last_used_at = now
        if old.superseded_at is None:
            old.superseded_at = now
        new = _new_refresh(old.user, client_id, old.scopes, family=old.family)
        access = _new_access(old.user, client_id, scopes, new.token)
        return jsonify(_token_body(access, new, None))


def _token_body(access: AccessToken, refresh: RefreshToken | None, nonce: str | None) -> dict[str, Any]:
    lifetime = int((access.expires_at - get_state().now()).total_seconds())
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(s for s in access.scopes if s != "offline_access"),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access.token,
    }
    if refresh is not None:
        body["refresh_token"] = refresh.token
    if "openid" in access.scopes:
        body["id_token"] = _id_token(access, nonce)
    return body


def _id_token(access: AccessToken, nonce: str | None) -> str:
    state = get_state()
    user = state.users[access.user]
    issued = int(time.time())  # the real clock, so a validator accepts iat/exp
    claims: dict[str, Any] = {
        "ver": "2.0",
        "iss": f"{base_url()}/{user.tid}/v2.0",
        "sub": uuid.uuid5(uuid.NAMESPACE_URL, f"{user.oid}:{access.client_id}").hex,
        "aud": access.client_id,
        "exp": issued + 3600,
        "iat": issued,
        "nbf": issued,
        "name": user.name,
        "preferred_username": user.email,
        "oid": user.oid,
        "tid": user.tid,
    }
    if "email" in access.scopes:
        claims["email"] = user.email
    if nonce:
        claims["nonce"] = nonce
    return sign_jwt(state, claims)


def userinfo() -> Response:
    access = get_state().valid_access_token(request.headers.get("Authorization"))
    if access is None:
        return graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
    user = get_state().users[access.user]
    return jsonify({"sub": user.oid, "name": user.name, "email": user.email})


# -- Graph --------------------------------------------------------------------------------------


def _graph_auth(need: str) -> AccessToken | Response:
    header = request.headers.get("Authorization")
    access = get_state().valid_access_token(header)
    if access is None:
        message = "Access token is empty." if not header else "Access token has expired or is not yet valid."
        return graph_error(401, "InvalidAuthenticationToken", message)
    names = {s[len(GRAPH) :].lower() for s in access.scopes if s.startswith(GRAPH)}
    allowed = {"user": {"user.read", "user.readbasic.all", "user.read.all"}, "calendar": set()}.get(need, set())
    if need == "calendar":
        allowed = {"calendars.read", "calendars.readwrite", "calendars.readbasic"}
    if not names & allowed:
        return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    return access


def me() -> Response:
    access = _graph_auth("user")
    if isinstance(access, Response):
        return access
    state = get_state()
    user = state.users[access.user]
    given, _, surname = user.name.partition(" ")
    return jsonify(
        {
            "@odata.context": f"{base_url()}/v1.0/$metadata#users/$entity",
            "businessPhones": [],
            "displayName": user.name,
            "givenName": given or None,
            "jobTitle": None,
            "mail": None if state.settings.mail_null else user.email,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "surname": surname or None,
            "userPrincipalName": user.email,
            "id": user.oid,
        }
    )


def _render_calendar(calendar: Calendar) -> dict[str, Any]:
    user = get_state().users[calendar.owner]
    return {
        "id": calendar.id,
        "name": "Calendar" if calendar.primary else calendar.summary,
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": calendar.primary,
        "changeKey": str(uuid.uuid5(uuid.NAMESPACE_URL, calendar.id)),
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": True,
        "isRemovable": not calendar.primary,
        "owner": {"name": user.name, "address": user.email},
    }


def _calendar_of(access: AccessToken, calendar_id: str | None) -> Calendar | None:
    state = get_state()
    if calendar_id is None:
        return state.primary_calendar(access.user)
    calendar = state.calendars.get(calendar_id)
    return calendar if calendar is not None and calendar.owner == access.user else None


def calendar_get(calendar_id: str | None = None) -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    calendar = _calendar_of(access, calendar_id)
    if calendar is None:
        return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    body = {"@odata.context": f"{base_url()}/v1.0/$metadata#users('{access.user}')/calendar/$entity"}
    body.update(_render_calendar(calendar))
    return jsonify(body)


def calendars_list() -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    state = get_state()
    items = [_render_calendar(c) for c in state.calendars.values() if c.owner == access.user]
    return jsonify({"@odata.context": f"{base_url()}/v1.0/$metadata#users('{access.user}')/calendars", "value": items})


def _zone() -> tuple[Any, str]:
    prefer = request.headers.get("Prefer", "")
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "outlook.timezone":
            label = value.strip().strip('"')
            try:
                return ZoneInfo(label), label
            except (ZoneInfoNotFoundError, ValueError):
                return UTC, "UTC"
    return UTC, "UTC"


def _max_page_size() -> int | None:
    for part in request.headers.get("Prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            return max(int(value.strip()), 1)
    return None


def _graph_time(moment: datetime, zone: Any, label: str) -> dict[str, str]:
    local = moment.astimezone(zone)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": label}


def render_event(event: Event) -> dict[str, Any]:
    zone, label = _zone()
    state = get_state()
    owner = state.users[event.owner]
    kind = {"single": "singleInstance", "instance": "occurrence", "master": "seriesMaster"}[event.kind]
    online_url = event.online_meeting_url
    return {
        "@odata.etag": f'W/"{event.changed_seq}"',
        "id": event.id,
        "createdDateTime": isoformat_z(event.created),
        "lastModifiedDateTime": isoformat_z(event.updated),
        "changeKey": str(event.changed_seq),
        "categories": [],
        "originalStartTimeZone": "UTC",
        "originalEndTimeZone": "UTC",
        "iCalUId": event.ical_uid,
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": event.summary,
        "bodyPreview": event.description[:255],
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": event.all_day,
        "isCancelled": event.cancelled,
        "isOrganizer": event.organizer == event.owner,
        "responseRequested": True,
        "seriesMasterId": event.master_id,
        "showAs": "busy",
        "type": kind,
        "webLink": f"{base_url()}/owa/?itemid={event.id}",
        "onlineMeetingUrl": online_url,
        "isOnlineMeeting": event.is_online_meeting,
        "onlineMeetingProvider": event.online_meeting_provider or ("teamsForBusiness" if online_url else "unknown"),
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": {"contentType": "html", "content": event.description},
        "start": _graph_time(event.start, zone, label),
        "end": _graph_time(event.end, zone, label),
        "location": {"displayName": event.location, "locationType": "default"},
        "locations": [{"displayName": event.location}] if event.location else [],
        "recurrence": None,
        "attendees": [_graph_attendee(a) for a in event.attendees],
        "organizer": {
            "emailAddress": {
                "name": owner.name if event.organizer == owner.email else event.organizer,
                "address": event.organizer,
            }
        },
        "onlineMeeting": {"joinUrl": online_url} if online_url else None,
    }


def _graph_attendee(attendee: dict[str, Any]) -> dict[str, Any]:
    response = str(attendee.get("response") or attendee.get("response_status") or "none")
    mapped = {"tentative": "tentativelyAccepted", "needsAction": "none"}
    return {
        "type": "optional" if attendee.get("optional") else "required",
        "status": {"response": mapped.get(response, response), "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {
            "name": str(attendee.get("name") or attendee.get("display_name") or attendee.get("email", "")),
            "address": str(attendee.get("email", "")),
        },
    }


def _window() -> tuple[datetime, datetime] | Response:
    start_raw, end_raw = request.args.get("startDateTime"), request.args.get("endDateTime")
    if not start_raw or not end_raw:
        return graph_error(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    start = parse_datetime(start_raw, require_offset=False)
    end = parse_datetime(end_raw, require_offset=False)
    if start is None or end is None:
        return graph_error(400, "ErrorInvalidParameter", "The parameter 'StartDateTime' is not valid.")
    return start, end


def _in_window(event: Event, start: datetime, end: datetime) -> bool:
    return event.start < end and event.end > start


def _view_events(calendar: Calendar, start: datetime, end: datetime, snapshot: int) -> list[Event]:
    events = [
        e
        for e in get_state().calendar_events(calendar.id)
        if e.kind in ("single", "instance")
        and not e.cancelled
        and e.changed_seq <= snapshot
        and _in_window(e, start, end)
    ]
    return sorted(events, key=lambda e: (e.start, e.id))


def calendar_view(calendar_id: str | None = None) -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    calendar = _calendar_of(access, calendar_id)
    if calendar is None:
        return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    window = _window()
    if isinstance(window, Response):
        return window
    state = get_state()
    skip = decode_opaque(request.args.get("$skiptoken", "")) or {}
    size = request.args.get("$top", type=int) or _max_page_size() or state.settings.graph_page_size
    with state.lock:
        snapshot = int(skip.get("s", state.seq))
        events = _view_events(calendar, window[0], window[1], snapshot)
        offset = int(skip.get("o", 0))
        page = [render_event(e) for e in events[offset : offset + size]]
    select = [s.strip() for s in request.args.get("$select", "").split(",") if s.strip()]
    if select:
        keep = set(select) | {"id", "@odata.etag"}
        page = [{k: v for k, v in item.items() if k in keep} for item in page]
    body: dict[str, Any] = {"@odata.context": f"{base_url()}/v1.0/$metadata#users('{access.user}')/calendarView"}
    body["value"] = page
    if offset + size < len(events):
        query = {k: v for k, v in request.args.items() if k != "$skiptoken"}
        query["$skiptoken"] = encode_opaque({"s": snapshot, "o": offset + size})
        body["@odata.nextLink"] = f"{base_url()}{request.path}?{urlencode(query, quote_via=quote)}"
    return jsonify(body)


def event_get(event_id: str) -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    event = get_state().events.get(event_id)
    if event is None or event.owner != access.user or event.cancelled:
        return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return jsonify(render_event(event))


def _sync_reset() -> Response:
    state = get_state()
    if state.settings.sync_reset_style == "syncStateNotFound":
        return graph_error(400, "syncStateNotFound", "The sync state generation is not found.")
    response = graph_error(410, "SyncStateInvalid", "Resync required. Replace any local copy of the collection.")
    response.headers["Location"] = f"{base_url()}/v1.0/me/calendarView/delta?$deltatoken="
    return response


def delta() -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    unsupported = [name for name in DELTA_UNSUPPORTED if name in request.args]
    if unsupported:
        return graph_error(
            400,
            "ErrorInvalidUrlQuery",
            "The following parameters are not supported with change tracking over the 'CalendarView' "
            "resource: '" + ", ".join(unsupported) + "'.",
        )
    state = get_state()
    calendar = state.primary_calendar(access.user)
    skip_raw, delta_raw = request.args.get("$skiptoken"), request.args.get("$deltatoken")
    now_ts = state.now().timestamp()
    if skip_raw is not None or delta_raw is not None:
        token = decode_opaque(skip_raw if skip_raw is not None else str(delta_raw))
        if token is None or token.get("u") != access.user or not _token_fresh(token):
            return _sync_reset()
        start = datetime.fromisoformat(token["w"][0])
        end = datetime.fromisoformat(token["w"][1])
        if skip_raw is not None:
            since, snapshot, offset, issued = token.get("since"), int(token["s"]), int(token["o"]), token["i"]
        else:
            since, snapshot, offset, issued = int(token["p"]), state.seq, 0, now_ts
    else:
        window = _window()
        if isinstance(window, Response):
            return window
        start, end = window
        since, snapshot, offset, issued = None, state.seq, 0, now_ts
    with state.lock:
        items = _delta_items(calendar, start, end, since, snapshot)
    size = _max_page_size() or state.settings.graph_page_size
    page = items[offset : offset + size]
    common = {"u": access.user, "w": [start.isoformat(), end.isoformat()], "ep": state.sync_epoch}
    body: dict[str, Any] = {"@odata.context": f"{base_url()}/v1.0/$metadata#Collection(event)", "value": page}
    link = f"{base_url()}/v1.0/me/calendarView/delta?"
    if offset + size < len(items):
        skip = encode_opaque({**common, "since": since, "s": snapshot, "o": offset + size, "i": issued})
        body["@odata.nextLink"] = link + "$skiptoken=" + skip
    else:
        body["@odata.deltaLink"] = link + "$deltatoken=" + encode_opaque({**common, "p": snapshot, "i": now_ts})
    response = jsonify(body)
    if _max_page_size():
        response.headers["Preference-Applied"] = f"odata.maxpagesize={size}"
    return response


def _token_fresh(token: dict[str, Any]) -> bool:
    state = get_state()
    if token.get("ep") != state.sync_epoch:
        return False
    horizon = state.settings.sync_token_horizon_seconds
    return horizon is None or state.now().timestamp() - float(token.get("i", 0)) <= horizon


def _delta_items(
    calendar: Calendar, start: datetime, end: datetime, since: int | None, snapshot: int
) -> list[dict[str, Any]]:
    state = get_state()
    if since is None:
        return [render_event(e) for e in _view_events(calendar, start, end, snapshot)]
    changed = sorted(
        (
            e
            for e in state.calendar_events(calendar.id)
            if e.kind in ("single", "instance") and since < e.changed_seq <= snapshot
        ),
        key=lambda e: e.changed_seq,
    )
    items: list[dict[str, Any]] = []
    for event in changed:
        if not event.cancelled and _in_window(event, start, end):
            items.append(render_event(event))
        else:
            items.append({"@odata.type": "#microsoft.graph.event", "id": event.id, "@removed": {"reason": "deleted"}})
    if state.settings.delta_duplicates:
        items = items + [dict(item) for item in items]
    return items


# -- subscriptions ------------------------------------------------------------------------------


def _render_subscription(sub: Subscription) -> dict[str, Any]:
    return {
        "@odata.context": f"{base_url()}/v1.0/$metadata#subscriptions/$entity",
        "id": sub.id,
        "resource": sub.resource,
        "applicationId": sub.client_id,
        "changeType": sub.change_type,
        "clientState": sub.client_state,
        "notificationUrl": sub.notification_url,
        "notificationQueryOptions": None,
        "lifecycleNotificationUrl": sub.lifecycle_notification_url,
        "expirationDateTime": isoformat_z(sub.expiration).replace(".000Z", "Z"),
        "creatorId": get_state().users[sub.owner].oid,
        "includeResourceData": False,
        "latestSupportedTlsVersion": "v1_2",
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationUrlAppId": None,
    }


def _check_expiration(raw: Any) -> datetime | Response:
    state = get_state()
    expiry = parse_datetime(str(raw or ""), require_offset=False)
    if expiry is None:
        return graph_error(400, "InvalidRequest", "expirationDateTime is required and must be a valid date.")
    limit = state.settings.subscription_max_minutes
    if expiry <= state.now():
        return graph_error(400, "InvalidRequest", "Subscription expiration must be in the future.")
    if expiry > state.now() + timedelta(minutes=limit):
        return graph_error(400, "InvalidRequest", f"Subscription expiration can only be {limit} minutes in the future.")
    return expiry


def _validate_endpoint(url: str) -> str | None:
    """The validation handshake: POST ?validationToken=…, expect 200 text/plain echoing the token."""
    state = get_state()
    token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
    separator = "&" if "?" in url else "?"
    record: dict[str, Any] = {"at": isoformat_z(state.now()), "kind": "graph.validation", "url": url}
    problem: str | None = None
    try:
        response = requests.post(
            url + separator + "validationToken=" + quote(token, safe=""),
            data=b"",
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=state.settings.validation_timeout_seconds,
        )
        with response:
            record["status"] = response.status_code
            content_type = response.headers.get("Content-Type", "")
            if response.status_code != 200 or not content_type.startswith("text/plain"):
                problem = "Notification endpoint must respond with 200 OK and text/plain to validation request."
            elif response.text != token:
                problem = "Validation token in the response does not match the one sent."
    except requests.Timeout:
        record["status"] = None
        problem = "Subscription validation request timeout."
    except requests.RequestException as exc:
        record["status"] = None
        record["error"] = type(exc).__name__
        problem = "Subscription validation request failed. Notification endpoint is unreachable."
    record["ok"] = problem is None
    with state.lock:
        state.deliveries.append(record)
    return problem


def subscriptions_create() -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return graph_error(400, "BadRequest", "Empty Payload. JSON content expected.")
    for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        if not data.get(name):
            return graph_error(400, "InvalidRequest", f"'{name}' is a required property for subscription creation.")
    resource = str(data["resource"]).strip("/")
    lowered = resource.lower()
    if not (
        lowered in ("me/events", "me/calendar/events")
        or (lowered.startswith(("me/calendars/", "users/")) and lowered.endswith("/events"))
    ):
        return graph_error(400, "ExtensionError", f"Operation on resource '{resource}' is not supported.")
    client_state = data.get("clientState")
    if client_state is not None and len(str(client_state)) > 128:
        return graph_error(400, "InvalidRequest", "clientState must not exceed 128 characters.")
    expiry = _check_expiration(data["expirationDateTime"])
    if isinstance(expiry, Response):
        return expiry
    lifecycle = data.get("lifecycleNotificationUrl")
    for url in [str(data["notificationUrl"])] + ([str(lifecycle)] if lifecycle else []):
        if not https_or_loopback(url):
            return graph_error(400, "ValidationError", "The Notification Url must be an HTTPS URL.")
    for url in [str(data["notificationUrl"])] + ([str(lifecycle)] if lifecycle else []):
        problem = _validate_endpoint(url)
        if problem is not None:
            return graph_error(400, "ValidationError", problem)
    sub = Subscription(
        id=str(uuid.uuid4()),
        owner=access.user,
        resource=resource,
        change_type=str(data["changeType"]),
        notification_url=str(data["notificationUrl"]),
        lifecycle_notification_url=str(lifecycle) if lifecycle else None,
        client_state=str(client_state) if client_state is not None else None,
        expiration=expiry,
        client_id=access.client_id,
    )
    state = get_state()
    with state.lock:
        state.subscriptions[sub.id] = sub
    response = jsonify(_render_subscription(sub))
    response.status_code = 201
    return response


def _own_subscription(access: AccessToken, sub_id: str) -> Subscription | Response:
    state = get_state()
    sub = state.subscriptions.get(sub_id)
    if sub is None or sub.deleted or sub.owner != access.user or sub.expiration <= state.now():
        return graph_error(404, "ResourceNotFound", "The object was not found.")
    return sub


def subscription_get(sub_id: str) -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    sub = _own_subscription(access, sub_id)
    return sub if isinstance(sub, Response) else jsonify(_render_subscription(sub))


def subscription_update(sub_id: str) -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    sub = _own_subscription(access, sub_id)
    if isinstance(sub, Response):
        return sub
    expiry = _check_expiration((request.get_json(silent=True) or {}).get("expirationDateTime"))
    if isinstance(expiry, Response):
        return expiry
    with get_state().lock:
        sub.expiration = expiry
    return jsonify(_render_subscription(sub))


def subscription_delete(sub_id: str) -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    sub = _own_subscription(access, sub_id)
    if isinstance(sub, Response):
        return sub
    with get_state().lock:
        sub.deleted = True
    return Response(status=204)


def subscription_reauthorize(sub_id: str) -> Response:
    access = _graph_auth("calendar")
    if isinstance(access, Response):
        return access
    sub = _own_subscription(access, sub_id)
    return sub if isinstance(sub, Response) else Response(status=204)


def _live_subscriptions(state: ProviderState, owners: set[str]) -> list[Subscription]:
    now = state.now()
    with state.lock:
        return [s for s in state.subscriptions.values() if s.owner in owners and not s.deleted and s.expiration > now]


def _change_item(state: ProviderState, sub: Subscription, event_id: str, change_type: str) -> dict[str, Any]:
    user = state.users[sub.owner]
    resource = f"Users/{user.oid}/Events/{event_id}"
    return {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": isoformat_z(sub.expiration),
        "changeType": change_type,
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": resource,
            "@odata.etag": 'W/"' + event_id + '"',
            "id": event_id,
        },
        "clientState": sub.client_state,
        "tenantId": user.tid,
    }


def _change_type(event: Event) -> str:
    if event.cancelled:
        return "deleted"
    return "created" if event.created == event.updated else "updated"


def _notify_changes(state: ProviderState, events: list[Event]) -> list[dict[str, Any]]:
    deliveries = []
    for sub in _live_subscriptions(state, {e.owner for e in events}):
        items = [_change_item(state, sub, e.id, _change_type(e)) for e in events if e.owner == sub.owner]
        deliveries.append(deliver(state, "graph.change", sub.notification_url, headers={}, body={"value": items}))
    return deliveries


def control_notify() -> Response:
    """Fire change or lifecycle notifications (see the README of the control API)."""
    state = get_state()
    data = request.get_json(silent=True) or {}
    if data.get("subscription_id"):
        sub = state.subscriptions.get(str(data["subscription_id"]))
        if sub is None:
            return json_error(404, {"error": "unknown subscription"})
        subs = [sub]
    else:
        subs = _live_subscriptions(state, set(state.users))
    deliveries = []
    for sub in subs:
        client_state = str(data["client_state"]) if "client_state" in data else sub.client_state
        lifecycle = data.get("lifecycle_event")
        if lifecycle:
            if not sub.lifecycle_notification_url:
                continue
            item = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": isoformat_z(sub.expiration),
                "tenantId": state.users[sub.owner].tid,
                "clientState": client_state,
                "lifecycleEvent": str(lifecycle),
            }
            if lifecycle == "subscriptionRemoved":
                sub.deleted = True
            url, items, kind = sub.lifecycle_notification_url, [item], "graph.lifecycle"
        else:
            event_ids = [str(e) for e in data.get("event_ids") or []] or ["emulator-event"]
            change_type = str(data.get("change_type", "updated"))
            items = [_change_item(state, sub, e, change_type) for e in event_ids]
            for item in items:
                item["clientState"] = client_state
            url, kind = sub.notification_url, "graph.change"
        deliveries.append(deliver(state, kind, url, headers={}, body={"value": items}))
    return jsonify({"deliveries": deliveries})
