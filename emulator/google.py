"""Emulated Google: OAuth 2.0 / OpenID Connect and Calendar API v3, under the real paths."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    AccessToken,
    AuthCode,
    Calendar,
    Channel,
    Event,
    Grant,
    ProviderState,
    RefreshToken,
    decode_opaque,
    encode_opaque,
    isoformat_z,
    new_token,
    parse_datetime,
)

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
EMAIL_SCOPE = SCOPE_PREFIX + "userinfo.email"
PROFILE_SCOPE = SCOPE_PREFIX + "userinfo.profile"
CALENDAR_SCOPES = frozenset({SCOPE_PREFIX + "calendar", SCOPE_PREFIX + "calendar.readonly"})
EVENTS_SCOPES = CALENDAR_SCOPES | {
    SCOPE_PREFIX + "calendar.events",
    SCOPE_PREFIX + "calendar.events.readonly",
    SCOPE_PREFIX + "calendar.events.owned",
    SCOPE_PREFIX + "calendar.events.owned.readonly",
}
CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME = 3599
SYNC_FORBIDDEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
REVOKED = "Token has been expired or revoked."
# One lock per channel orders its notifications: the ``sync`` message always goes out first.
_channel_locks: dict[str, threading.Lock] = {}


def create_google_app(state: ProviderState | None = None) -> Flask:
    app = make_app(__name__, "google", state)
    rule = app.add_url_rule
    rule("/.well-known/openid-configuration", "discovery", discovery, methods=["GET"])
    rule("/oauth2/v3/certs", "jwks", certs, methods=["GET"])
    rule("/o/oauth2/v2/auth", "authorize", authorize, methods=["GET", "POST"])
    rule("/token", "token", token, methods=["POST"])
    rule("/revoke", "revoke", revoke, methods=["POST"])
    rule("/revoke", "revoke_get", revoke_get, methods=["GET"])
    rule("/v1/userinfo", "userinfo", userinfo, methods=["GET"])
    rule("/oauth2/v3/userinfo", "userinfo_v3", userinfo, methods=["GET"])
    cal = "/calendar/v3"
    rule(f"{cal}/calendars/<calendar_id>", "calendars_get", calendars_get, methods=["GET"])
    rule(f"{cal}/users/me/calendarList", "calendar_list", calendar_list, methods=["GET"])
    rule(f"{cal}/calendars/<calendar_id>/events", "events_list", events_list, methods=["GET"])
    rule(f"{cal}/calendars/<calendar_id>/events/<event_id>", "events_get", events_get, methods=["GET"])
    rule(f"{cal}/calendars/<calendar_id>/events/watch", "events_watch", events_watch, methods=["POST"])
    rule(f"{cal}/channels/stop", "channels_stop", channels_stop, methods=["POST"])
    bp = control_blueprint(_preset, _notify_changes)
    bp.add_url_rule("/notify", "notify", control_notify, methods=["POST"])
    app.register_blueprint(bp)
    return app


# -- errors -------------------------------------------------------------------------------------


def token_error(status: int, error: str, description: str, **extra: str) -> Response:
    return json_error(status, {"error": error, "error_description": description, **extra})


def api_error_body(
    status: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    location: str | None = None,
    location_type: str | None = None,
    status_text: str | None = None,
    details: list[dict[str, Any]] | None = None,
    with_details: bool = True,
) -> dict[str, Any]:
    item: dict[str, Any] = {"domain": domain, "reason": reason, "message": message}
    if location:
        item["locationType"] = location_type or "parameter"
        item["location"] = location
    error: dict[str, Any] = {"errors": [item], "code": status, "message": message}
    if with_details and status_text:
        error["status"] = status_text
    if with_details and details:
        error["details"] = details
    return {"error": error}


def api_error(status: int, reason: str, message: str, **kwargs: Any) -> Response:
    with_details = get_state().settings.google_error_details
    return json_error(status, api_error_body(status, reason, message, with_details=with_details, **kwargs))


def _insufficient(method: str) -> Response:
    return api_error(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        status_text="PERMISSION_DENIED",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": "calendar-json.googleapis.com", "method": method},
            }
        ],
    )


def _usage(status: int, reason: str, message: str, permission_denied: bool = False) -> tuple[int, Any]:
    body = api_error_body(
        status,
        reason,
        message,
        domain="usageLimits",
        status_text="PERMISSION_DENIED" if permission_denied else None,
    )
    return status, body


PRESETS: dict[str, tuple[int, Any]] = {
    "invalid_grant": (400, {"error": "invalid_grant", "error_description": REVOKED}),
    "invalid_grant_bad_request": (400, {"error": "invalid_grant", "error_description": "Bad Request"}),
    "invalid_rapt": (
        400,
        {
            "error": "invalid_grant",
            "error_description": "reauth related error (invalid_rapt)",
            "error_uri": "https://support.google.com/a/answer/9368756",
            "error_subtype": "invalid_rapt",
        },
    ),
    "invalid_client": (401, {"error": "invalid_client", "error_description": "Unauthorized"}),
    "deleted_client": (401, {"error": "deleted_client", "error_description": "The OAuth client was deleted."}),
    "admin_policy_enforced": (
        400,
        {"error": "admin_policy_enforced", "error_description": "Access blocked by the administrator's policy."},
    ),
    "auth_error": (
        401,
        api_error_body(401, "authError", "Invalid Credentials", location="Authorization", location_type="header"),
    ),
    "rate_limit_exceeded": _usage(403, "rateLimitExceeded", "Rate Limit Exceeded"),
    "user_rate_limit_exceeded": _usage(403, "userRateLimitExceeded", "User Rate Limit Exceeded"),
    "quota_exceeded": _usage(403, "quotaExceeded", "Calendar usage limits exceeded."),
    "rate_limit_permission_denied": _usage(403, "rateLimitExceeded", "Rate Limit Exceeded", True),
    "too_many_requests": _usage(429, "rateLimitExceeded", "Rate Limit Exceeded"),
    "backend_error": (503, api_error_body(503, "backendError", "Backend Error")),
    "internal_error": (500, api_error_body(500, "internalError", "Internal Error")),
    "not_found": (404, api_error_body(404, "notFound", "Not Found")),
    "full_sync_required": (
        410,
        api_error_body(
            410,
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
            domain="calendar",
            location="syncToken",
        ),
    ),
    "gone": (410, {"error": {"errors": [], "code": 410, "message": "Gone"}}),
}


def _preset(data: dict[str, Any]) -> tuple[int, Any] | None:
    name = data.get("preset")
    return PRESETS.get(str(name)) if name else None


# -- discovery ----------------------------------------------------------------------------------


def discovery() -> Response:
    base = base_url()
    return jsonify(
        {
            "issuer": base,
            "authorization_endpoint": base + "/o/oauth2/v2/auth",
            "token_endpoint": base + "/token",
            "userinfo_endpoint": base + "/v1/userinfo",
            "revocation_endpoint": base + "/revoke",
            "jwks_uri": base + "/oauth2/v3/certs",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "name", "sub"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }
    )


def certs() -> Response:
    return jsonify(jwks(get_state()))


# -- authorization ------------------------------------------------------------------------------


def normalize_scopes(raw: str) -> list[str]:
    aliases = {"email": EMAIL_SCOPE, "profile": PROFILE_SCOPE}
    result: list[str] = []
    for scope in raw.split():
        scope = aliases.get(scope, scope)
        if scope not in result:
            result.append(scope)
    return result


def authorize() -> Response:
    state = get_state()
    params = oauth.request_params()
    client = state.clients.get(params.get("client_id", ""))
    if client is None:
        return oauth.error_page(401, "invalid_client", "The OAuth client was not found.")
    if client.deleted:
        return oauth.error_page(401, "deleted_client", "The OAuth client was deleted.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        return oauth.error_page(
            400, "redirect_uri_mismatch", f"redirect_uri {redirect_uri!r} is not registered for this client."
        )
    back = params.get("state")

    def fail(error: str, description: str | None = None) -> Response:
        return oauth.redirect_to(redirect_uri, {"error": error, "error_description": description, "state": back})

    if params.get("response_type") != "code":
        return fail("unsupported_response_type")
    scopes = normalize_scopes(params.get("scope", ""))
    if not scopes:
        return oauth.error_page(400, "invalid_request", "Missing required parameter: scope")
    prompts = params.get("prompt", "").split()
    if len(prompts) > 1 and (not state.settings.allow_prompt_list or "none" in prompts):
        return oauth.error_page(400, "invalid_request", "Invalid parameter value for prompt")
    if any(p not in ("none", "consent", "select_account") for p in prompts):
        return oauth.error_page(400, "invalid_request", "Invalid parameter value for prompt")
    if params.get("access_type", "online") not in ("online", "offline"):
        return oauth.error_page(400, "invalid_request", "Invalid access_type")
    method = params.get("code_challenge_method")
    if method not in (None, "S256", "plain") or (method and not params.get("code_challenge")):
        return oauth.error_page(400, "invalid_request", "Invalid code_challenge_method")
    users = list(state.users.values())
    if not users:
        return oauth.error_page(400, "no_accounts", "No accounts are seeded in the emulator.")
    hint = params.get("login_hint")
    if "none" in prompts:
        email = hint if hint in state.users else users[0].email
        grant = state.grants.get((email, client.client_id))
        if grant is None or not set(scopes) <= set(grant.scopes):
            return fail("interaction_required")
        return _approve(params, email, scopes)
    if request.method == "GET" and not state.settings.auto_approve:
        return oauth.consent_page(
            provider_name="Google",
            action=request.path,
            params=params,
            users=users,
            selected=hint,
            scopes=scopes,
            show_tenant=False,
        )
    if request.method == "POST":
        if request.form.get("decision") != "allow":
            return fail("access_denied")
        email = request.form.get("account", "")
        if email not in state.users:
            return oauth.error_page(400, "invalid_request", "Choose an account.")
        granted = [s for s in scopes if s in request.form.getlist("grant_scope")]
        return _approve(params, email, granted)
    email = hint if hint in state.users else users[0].email
    return _approve(params, email, scopes)


def _approve(params: dict[str, str], email: str, scopes: list[str]) -> Response:
    state = get_state()
    client_id = params["client_id"]
    with state.lock:
        grant = state.grants.get((email, client_id))
        first_consent = grant is None
        if params.get("include_granted_scopes") == "true" and grant is not None:
            scopes = scopes + [s for s in grant.scopes if s not in scopes]
        if grant is None:
            state.grants[(email, client_id)] = Grant(email, client_id, list(scopes))
        else:
            grant.scopes = list(scopes)
        prompts = params.get("prompt", "").split()
        issue_refresh = params.get("access_type") == "offline" and (first_consent or "consent" in prompts)
        code = AuthCode(
            code="4/" + new_token(nbytes=30),
            client_id=client_id,
            redirect_uri=params["redirect_uri"],
            user=email,
            scopes=scopes,
            created_at=state.now(),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            nonce=params.get("nonce"),
            issue_refresh=issue_refresh,
        )
        state.codes[code.code] = code
    return oauth.redirect_to(
        params["redirect_uri"],
        {"state": params.get("state"), "code": code.code, "scope": " ".join(scopes), "authuser": "0"},
    )


# -- token endpoint -----------------------------------------------------------------------------


def token() -> Response:
    state = get_state()
    client_id, secret, _method = oauth.client_credentials()
    if not client_id:
        return token_error(400, "invalid_request", "Could not determine client ID from request.")
    client = state.clients.get(client_id)
    if client is None:
        return token_error(401, "invalid_client", "The OAuth client was not found.")
    if client.deleted:
        return token_error(401, "deleted_client", "The OAuth client was deleted.")
    if secret != client.client_secret:
        return token_error(401, "invalid_client", "Unauthorized")
    grant_type = request.form.get("grant_type", "")
    if grant_type == "authorization_code":
        return _redeem_code(client_id)
    if grant_type == "refresh_token":
        return _refresh(client_id)
    return token_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _redeem_code(client_id: str) -> Response:
    state = get_state()
    form = request.form
    with state.lock:
        code = state.codes.get(form.get("code", ""))
        description = state.settings.code_error_description
        if code is None or code.used or code.client_id != client_id:
            return token_error(400, "invalid_grant", description)
        if state.now() >= code.created_at + CODE_LIFETIME:
            return token_error(400, "invalid_grant", description)
        if form.get("redirect_uri") != code.redirect_uri:
            return token_error(400, "redirect_uri_mismatch", "Bad Request")
        if code.code_challenge:
            verifier = form.get("code_verifier")
            if not verifier:
                return token_error(400, "invalid_grant", "Missing code verifier.")
            if not oauth.pkce_ok(code.code_challenge, code.code_challenge_method, verifier):
                return token_error(400, "invalid_grant", "Invalid code verifier.")
        code.used = True
        refresh = _issue_refresh(code.user, client_id, code.scopes) if code.issue_refresh else None
        access = state.issue_access_token(
            code.user, client_id, code.scopes, ACCESS_TOKEN_LIFETIME, refresh.token if refresh else None, "ya29."
        )
    return jsonify(_token_response(access, refresh, code.nonce))


def _issue_refresh(user: str, client_id: str, scopes: list[str]) -> RefreshToken:
    """Mint a refresh token; the oldest live one beyond the per-(user, client) cap is evicted."""
    state = get_state()
    now = state.now()
    client = state.clients[client_id]
    token = RefreshToken(
        token="1//" + new_token(nbytes=40),
        user=user,
        client_id=client_id,
        scopes=list(scopes),
        issued_at=now,
        expires_at=now + timedelta(seconds=state.settings.testing_mode_lifetime_seconds)
        if client.testing_mode
        else None,
    )
    issued = state.refresh_tokens_by_grant.setdefault((user, client_id), [])
    issued[:] = [t for t in issued if not t.revoked]  # oldest first: they are appended as issued
    while len(issued) >= state.settings.max_refresh_tokens_per_client:
        oldest = issued.pop(0)
        oldest.revoked, oldest.reason = True, "evicted"
    issued.append(token)
    state.refresh_tokens[token.token] = token
    return token


def _refresh_problem(token: RefreshToken | None, client_id: str) -> Response | None:
    state = get_state()
    now = state.now()
    if token is None:
        return token_error(400, "invalid_grant", "Bad Request")
    if token.client_id != client_id:
        return token_error(401, "unauthorized_client", "Unauthorized")
    if token.revoked or (token.expires_at is not None and now >= token.expires_at):
        return token_error(400, "invalid_grant", REVOKED)
    last = token.last_used_at or token.issued_at
    if now >= last + timedelta(seconds=state.settings.google_inactivity_seconds):
        return token_error(400, "invalid_grant", REVOKED)
    return None


def _refresh(client_id: str) -> Response:
    state = get_state()
    form = request.form
    raw = form.get("refresh_token")
    if not raw:
        return token_error(400, "invalid_request", "Missing required parameter: refresh_token")
    with state.lock:
        token = state.refresh_tokens.get(raw)
        problem = _refresh_problem(token, client_id)
        if problem is not None:
            return problem
        assert token is not None
        scopes = token.scopes
        if "scope" in form:
            if state.settings.reject_scope_on_refresh:
                return token_error(400, "invalid_scope", "Bad Request")
            requested = normalize_scopes(form.get("scope", ""))
            if not set(requested) <= set(token.scopes):
                return token_error(400, "invalid_scope", "Some requested scopes were invalid.")
            scopes = requested
        token.last_used_at = state.now()
        access = state.issue_access_token(token.user, client_id, scopes, ACCESS_TOKEN_LIFETIME, token.token, "ya29.")
    return jsonify(_token_response(access, None, None))


def _token_response(access: AccessToken, refresh: RefreshToken | None, nonce: str | None) -> dict[str, Any]:
    state = get_state()
    body: dict[str, Any] = {"access_token": access.token, "expires_in": ACCESS_TOKEN_LIFETIME}
    if refresh is not None:
        body["refresh_token"] = refresh.token
        if state.settings.refresh_token_expires_in is not None:
            body["refresh_token_expires_in"] = state.settings.refresh_token_expires_in
    body["scope"] = " ".join(access.scopes)
    body["token_type"] = "Bearer"
    if "openid" in access.scopes:
        body["id_token"] = _id_token(access, nonce)
    return body


def _id_token(access: AccessToken, nonce: str | None) -> str:
    """ID tokens use the real wall clock for iat/exp, so a validator's own clock accepts them."""
    state = get_state()
    user = state.users[access.user]
    issued = int(time.time())
    claims: dict[str, Any] = {
        "iss": base_url(),
        "azp": access.client_id,
        "aud": access.client_id,
        "sub": user.sub,
        "iat": issued,
        "exp": issued + 3600,
        "at_hash": _at_hash(access.token),
    }
    if EMAIL_SCOPE in access.scopes:
        claims["email"] = user.email
        claims["email_verified"] = True
    if PROFILE_SCOPE in access.scopes:
        claims["name"] = user.name
    if nonce:
        claims["nonce"] = nonce
    return sign_jwt(state, claims)


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# -- revoke, userinfo ---------------------------------------------------------------------------


def revoke() -> Response:
    state = get_state()
    raw = request.form.get("token") or request.args.get("token") or ""
    with state.lock:
        refresh = state.refresh_tokens.get(raw)
        access = state.access_tokens.get(raw)
        if refresh is None and access is not None and not access.revoked and access.refresh_token:
            refresh = state.refresh_tokens.get(access.refresh_token)
        if refresh is not None and not refresh.revoked:
            doomed = [refresh]
            if state.settings.revoke_siblings:
                doomed = [
                    t
                    for t in state.refresh_tokens.values()
                    if (t.user, t.client_id) == (refresh.user, refresh.client_id)
                ]
                state.grants.pop((refresh.user, refresh.client_id), None)
            names = {t.token for t in doomed}
            for item in doomed:
                item.revoked, item.reason = True, "revoked"
            for other in state.access_tokens.values():
                if other.refresh_token in names:
                    other.revoked = True
        elif access is not None and not access.revoked:
            access.revoked = True
        else:
            return token_error(400, "invalid_token", "Token expired or revoked")
    return jsonify({})


def revoke_get() -> Response:
    return Response("Not Found", status=404, mimetype="text/plain")


def userinfo() -> Response:
    state = get_state()
    access = state.valid_access_token(request.headers.get("Authorization"))
    if access is None:
        response = token_error(401, "invalid_request", "Invalid Credentials")
        response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        return response
    user = state.users[access.user]
    body: dict[str, Any] = {"sub": user.sub}
    if PROFILE_SCOPE in access.scopes:
        body["name"] = user.name
    if EMAIL_SCOPE in access.scopes:
        body["email"] = user.email
        body["email_verified"] = True
    return jsonify(body)


# -- calendar API -------------------------------------------------------------------------------


def _authenticate(allowed: frozenset[str] | set[str], method: str) -> AccessToken | Response:
    state = get_state()
    header = request.headers.get("Authorization")
    access = state.valid_access_token(header)
    if access is None:
        if not header:
            return api_error(
                401,
                "required",
                "Request is missing required authentication credential. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
                location="Authorization",
                location_type="header",
                status_text="UNAUTHENTICATED",
            )
        return api_error(
            401,
            "authError",
            "Invalid Credentials",
            location="Authorization",
            location_type="header",
            status_text="UNAUTHENTICATED",
        )
    if not set(access.scopes) & set(allowed):
        return _insufficient(method)
    return access


def _calendar_for(access: AccessToken, calendar_id: str) -> Calendar | None:
    state = get_state()
    if calendar_id == "primary":
        return state.primary_calendar(access.user)
    calendar = state.calendars.get(calendar_id)
    return calendar if calendar is not None and calendar.owner == access.user else None


def _not_found() -> Response:
    return api_error(404, "notFound", "Not Found")


def _etag(value: Any) -> str:
    return '"' + hashlib.sha1(str(value).encode()).hexdigest()[:16] + '"'


def calendars_get(calendar_id: str) -> Response:
    access = _authenticate(CALENDAR_SCOPES, "calendar.v3.Calendars.Get")
    if isinstance(access, Response):
        return access
    calendar = _calendar_for(access, calendar_id)
    if calendar is None:
        return _not_found()
    return jsonify(
        {
            "kind": "calendar#calendar",
            "etag": _etag(calendar.id + calendar.summary),
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
    )


def calendar_list() -> Response:
    access = _authenticate(CALENDAR_SCOPES, "calendar.v3.CalendarList.List")
    if isinstance(access, Response):
        return access
    if "syncToken" in request.args and "minAccessRole" in request.args:
        return api_error(400, "invalid", "Invalid Value")
    state = get_state()
    calendars = [c for c in state.calendars.values() if c.owner == access.user]
    max_results = min(max(request.args.get("maxResults", 100, type=int) or 100, 1), 250)
    offset = (decode_opaque(request.args.get("pageToken", "")) or {}).get("o", 0)
    page = calendars[offset : offset + max_results]
    body: dict[str, Any] = {"kind": "calendar#calendarList", "etag": _etag(len(calendars)), "items": []}
    for calendar in page:
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": _etag(calendar.id),
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "accessRole": calendar.access_role,
            "selected": True,
            "defaultReminders": [],
        }
        if calendar.primary:
            entry["primary"] = True
        body["items"].append(entry)
    if offset + max_results < len(calendars):
        body["nextPageToken"] = encode_opaque({"o": offset + max_results})
    else:
        body["nextSyncToken"] = encode_opaque({"cl": state.seq})
    return jsonify(body)


def _google_time(moment: datetime, all_day: bool, time_zone: str) -> dict[str, str]:
    if all_day:
        return {"date": moment.date().isoformat()}
    try:
        zone: Any = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    text = moment.astimezone(zone).replace(microsecond=0).isoformat()
    return {"dateTime": text.replace("+00:00", "Z"), "timeZone": time_zone}


RESPONSES = {"accepted", "declined", "tentative", "needsAction"}


def render_event(event: Event, calendar: Calendar, full_cancelled: bool = False) -> dict[str, Any]:
    base = base_url()
    body: dict[str, Any] = {"kind": "calendar#event", "etag": _etag(event.changed_seq), "id": event.id}
    original = _google_time(event.start, event.all_day, calendar.time_zone)
    if event.cancelled and not full_cancelled:
        body["status"] = "cancelled"
        if event.master_id:
            body["recurringEventId"] = event.master_id
            body["originalStartTime"] = original
        return body
    body.update(
        {
            "status": "cancelled" if event.cancelled else "confirmed",
            "htmlLink": f"{base}/calendar/event?eid={event.id}",
            "created": isoformat_z(event.created),
            "updated": isoformat_z(event.updated),
            "summary": event.summary,
        }
    )
    if event.description:
        body["description"] = event.description
    if event.location:
        body["location"] = event.location
    body["creator"] = {"email": event.owner, "self": True}
    body["organizer"] = {"email": event.organizer, "self": event.organizer == event.owner}
    body["start"] = original
    body["end"] = _google_time(event.end, event.all_day, calendar.time_zone)
    if event.kind == "master":
        body["recurrence"] = event.recurrence or ["RRULE:FREQ=WEEKLY"]
    if event.master_id:
        body["recurringEventId"] = event.master_id
        body["originalStartTime"] = original
    body["iCalUID"] = event.ical_uid
    body["sequence"] = 0
    if event.attendees:
        body["attendees"] = [_google_attendee(a, event) for a in event.attendees]
    if event.hangout_link:
        body["hangoutLink"] = event.hangout_link
    if event.conference_data is not None:
        body["conferenceData"] = event.conference_data
    elif event.hangout_link:
        body["conferenceData"] = {
            "entryPoints": [{"entryPointType": "video", "uri": event.hangout_link, "label": event.hangout_link}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "conferenceId": event.hangout_link.rsplit("/", 1)[-1],
        }
    body["reminders"] = {"useDefault": True}
    body["eventType"] = "default"
    return body


def _google_attendee(attendee: dict[str, Any], event: Event) -> dict[str, Any]:
    email = str(attendee.get("email", ""))
    response = str(attendee.get("response_status") or attendee.get("response") or "needsAction")
    mapped = {"tentativelyAccepted": "tentative", "none": "needsAction", "notResponded": "needsAction"}
    response = mapped.get(response, response)
    item: dict[str, Any] = {"email": email}
    name = attendee.get("name") or attendee.get("display_name")
    if name:
        item["displayName"] = name
    if email == event.organizer:
        item["organizer"] = True
    if email == event.owner:
        item["self"] = True
    if attendee.get("optional"):
        item["optional"] = True
    item["responseStatus"] = response if response in RESPONSES else "needsAction"
    return item


def _bool_arg(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None:
        return None
    return value.lower() == "true"


def events_list(calendar_id: str) -> Response:
    access = _authenticate(EVENTS_SCOPES, "calendar.v3.Events.List")
    if isinstance(access, Response):
        return access
    calendar = _calendar_for(access, calendar_id)
    if calendar is None:
        return _not_found()
    state = get_state()
    args = request.args
    single = bool(_bool_arg("singleEvents"))
    show_deleted = _bool_arg("showDeleted")
    sync_raw = args.get("syncToken")
    try:
        max_results = int(args.get("maxResults", "250"))
    except ValueError:
        return api_error(400, "invalid", "Invalid value for maxResults", location="maxResults")
    if not 1 <= max_results <= 2500:
        return api_error(400, "invalid", "Invalid value for maxResults", location="maxResults")
    if args.get("orderBy") == "startTime" and not single:
        return api_error(400, "badRequest", "The requested ordering is not available for the particular query.")
    query_key = _etag(sorted((k, v) for k, v in args.items(multi=True) if k != "pageToken"))
    page_raw = args.get("pageToken")
    page_token: dict[str, Any] = {}
    if page_raw:
        decoded = decode_opaque(page_raw)
        if decoded is None or decoded.get("k") != query_key:
            return api_error(400, "invalid", "Invalid page token value.", location="pageToken")
        page_token = decoded
    since: int | None = None
    if sync_raw is not None:
        for name in SYNC_FORBIDDEN:
            if name in args:
                return api_error(
                    400, "invalid", f"Invalid combination of syncToken and {name}.", domain="global", location=name
                )
        if show_deleted is False:
            return api_error(400, "invalid", "showDeleted=false cannot be used with syncToken.", location="showDeleted")
        sync = decode_opaque(sync_raw)
        if sync is None or sync.get("c") != calendar.id or not _sync_token_fresh(sync):
            return _gone()
        since = int(sync["p"])
        show_deleted = True
    time_min = time_max = None
    for name in ("timeMin", "timeMax"):
        if name in args:
            parsed = parse_datetime(args[name], require_offset=True)
            if parsed is None:
                return api_error(400, "badRequest", "Bad Request", location=name)
            if name == "timeMin":
                time_min = parsed
            else:
                time_max = parsed
    if time_min is not None and time_max is not None and time_min >= time_max:
        return api_error(
            400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar", location="timeMax"
        )
    with state.lock:
        snapshot = int(page_token.get("s", state.seq))
        items = _select_events(calendar, single, bool(show_deleted), since, snapshot, time_min, time_max)
        rendered = [render_event(e, calendar) for e in items]
    body: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": _etag(snapshot),
        "summary": calendar.summary,
        "description": "",
        "updated": isoformat_z(state.now()),
        "timeZone": calendar.time_zone,
        "accessRole": calendar.access_role,
        "defaultReminders": [],
    }

    def next_page(**extra: Any) -> str:
        return encode_opaque({"k": query_key, "s": snapshot, **extra})

    offset = int(page_token.get("o", 0))
    if state.settings.empty_pages and not page_raw:
        body["items"] = []
        body["nextPageToken"] = next_page(o=0)
        return jsonify(body)
    page = rendered[offset : offset + max_results]
    end = offset + len(page)
    body["items"] = page
    if end < len(rendered):
        body["nextPageToken"] = next_page(o=end)
    elif state.settings.empty_pages and not page_token.get("t"):
        body["nextPageToken"] = next_page(o=end, t=1)
    else:
        body["nextSyncToken"] = encode_opaque(
            {"c": calendar.id, "p": snapshot, "e": state.sync_epoch, "i": state.now().timestamp()}
        )
    return jsonify(body)


def _sync_token_fresh(sync: dict[str, Any]) -> bool:
    state = get_state()
    if sync.get("e") != state.sync_epoch:
        return False
    horizon = state.settings.sync_token_horizon_seconds
    return horizon is None or state.now().timestamp() - float(sync.get("i", 0)) <= horizon


def _gone() -> Response:
    if get_state().settings.gone_with_reason:
        return api_error(
            410,
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
            domain="calendar",
            location="syncToken",
        )
    return json_error(410, {"error": {"code": 410, "message": "Gone"}})


def _select_events(
    calendar: Calendar,
    single: bool,
    show_deleted: bool,
    since: int | None,
    snapshot: int,
    time_min: datetime | None,
    time_max: datetime | None,
) -> list[Event]:
    state = get_state()
    kinds = {"single", "instance"} if single else {"single", "master"}
    chosen: list[Event] = []
    for event in state.calendar_events(calendar.id):
        if event.kind not in kinds or event.changed_seq > snapshot:
            continue
        if since is not None:
            if event.changed_seq > since:
                chosen.append(event)
            continue
        if event.cancelled and not show_deleted:
            continue
        if time_min is not None and not event.end > time_min:
            continue
        if time_max is not None and not event.start < time_max:
            continue
        chosen.append(event)
    if since is not None:
        return sorted(chosen, key=lambda e: e.changed_seq)
    return sorted(chosen, key=lambda e: (e.start, e.id))


def events_get(calendar_id: str, event_id: str) -> Response:
    access = _authenticate(EVENTS_SCOPES, "calendar.v3.Events.Get")
    if isinstance(access, Response):
        return access
    calendar = _calendar_for(access, calendar_id)
    event = get_state().events.get(event_id)
    if calendar is None or event is None or event.calendar_id != calendar.id:
        return _not_found()
    return jsonify(render_event(event, calendar, full_cancelled=True))


# -- push channels ------------------------------------------------------------------------------


def _resource_id(calendar_id: str) -> str:
    return hashlib.sha256(("resource:" + calendar_id).encode()).hexdigest()[:27]


def events_watch(calendar_id: str) -> Response:
    access = _authenticate(EVENTS_SCOPES, "calendar.v3.Events.Watch")
    if isinstance(access, Response):
        return access
    calendar = _calendar_for(access, calendar_id)
    if calendar is None:
        return _not_found()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return api_error(400, "parseError", "Parse Error")
    channel_id, address = data.get("id"), data.get("address")
    if not channel_id:
        return api_error(400, "required", "Required", location="id")
    if not address:
        return api_error(400, "required", "Required", location="address")
    if not https_or_loopback(str(address)):
        return api_error(400, "push.webhookUrlNotHttps", f"WebHook callback must be HTTPS: {address}")
    if data.get("type") not in ("web_hook", "webhook"):
        return api_error(400, "invalid", "Invalid value for type", location="type")
    state = get_state()
    now = state.now()
    expiry = now + timedelta(seconds=state.settings.channel_default_ttl_seconds)
    ttl = (data.get("params") or {}).get("ttl")
    if ttl is not None:
        expiry = min(expiry, now + timedelta(seconds=int(ttl)))
    if data.get("expiration") is not None:
        requested = datetime.fromtimestamp(int(data["expiration"]) / 1000, UTC)
        expiry = min(expiry, requested)
    with state.lock:
        existing = state.channels.get(str(channel_id))
        if existing is not None and not existing.stopped:
            return api_error(400, "channelIdNotUnique", f"Channel id {channel_id} not unique")
        channel = Channel(
            id=str(channel_id),
            resource_id=_resource_id(calendar.id),
            resource_uri=f"{base_url()}/calendar/v3/calendars/{calendar.id}/events?alt=json",
            calendar_id=calendar.id,
            owner=access.user,
            address=str(address),
            token=str(data["token"]) if data.get("token") is not None else None,
            expiration=expiry,
        )
        state.channels[channel.id] = channel
    body = {
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": channel.resource_uri,
        "expiration": str(int(expiry.timestamp() * 1000)),
    }
    if channel.token is not None:
        body["token"] = channel.token
    if state.settings.send_sync_on_watch:
        lock = _channel_locks.setdefault(f"{id(state)}:{channel.id}", threading.Lock())
        lock.acquire()
        headers = _channel_headers(state, channel, "sync")

        def send_sync() -> None:
            try:
                deliver(state, "google.sync", channel.address, headers=headers)
            finally:
                lock.release()

        threading.Thread(target=send_sync, daemon=True).start()
    return jsonify(body)


def channels_stop() -> Response:
    access = _authenticate(EVENTS_SCOPES, "calendar.v3.Channels.Stop")
    if isinstance(access, Response):
        return access
    data = request.get_json(silent=True) or {}
    state = get_state()
    with state.lock:
        channel = state.channels.get(str(data.get("id")))
        if channel is None or channel.stopped or channel.resource_id != data.get("resourceId"):
            return api_error(404, "notFound", f"Channel '{data.get('id')}' not found for project '0'")
        channel.stopped = True
    return Response(status=204)


def _channel_headers(
    state: ProviderState, channel: Channel, resource_state: str, token: str | None = None
) -> dict[str, str]:
    with state.lock:
        channel.message_number += 1
        number = channel.message_number
    headers = {
        "X-Goog-Channel-ID": channel.id,
        "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-URI": channel.resource_uri,
        "X-Goog-Resource-State": resource_state,
        "X-Goog-Message-Number": str(number),
    }
    sent_token = token if token is not None else channel.token
    if sent_token is not None:
        headers["X-Goog-Channel-Token"] = sent_token
    return headers


def _send(state: ProviderState, channel: Channel, resource_state: str, token: str | None = None) -> dict[str, Any]:
    lock = _channel_locks.get(f"{id(state)}:{channel.id}")
    acquired = lock.acquire(timeout=15) if lock is not None else False
    try:
        headers = _channel_headers(state, channel, resource_state, token)
        return deliver(state, f"google.{resource_state}", channel.address, headers=headers)
    finally:
        if lock is not None and acquired:
            lock.release()


def _live_channels(state: ProviderState, calendar_ids: set[str]) -> list[Channel]:
    now = state.now()
    with state.lock:
        return [
            c for c in state.channels.values() if c.calendar_id in calendar_ids and not c.stopped and c.expiration > now
        ]


def _notify_changes(state: ProviderState, events: list[Event]) -> list[dict[str, Any]]:
    channels = _live_channels(state, {e.calendar_id for e in events})
    return [_send(state, channel, "exists") for channel in channels]


def control_notify() -> Response:
    """Fire a notification: ``{"channel_id"?, "calendar_id"?, "state": "exists", "token"?}``."""
    state = get_state()
    data = request.get_json(silent=True) or {}
    resource_state = str(data.get("state", "exists"))
    if data.get("channel_id"):
        channel = state.channels.get(str(data["channel_id"]))
        if channel is None:
            return json_error(404, {"error": "unknown channel"})
        channels = [channel]
    else:
        with state.lock:
            ids = {data["calendar_id"]} if data.get("calendar_id") else {c.id for c in state.calendars.values()}
        channels = _live_channels(state, ids)
    token = data.get("token")
    deliveries = [_send(state, c, resource_state, str(token) if token is not None else None) for c in channels]
    return jsonify({"deliveries": deliveries})
