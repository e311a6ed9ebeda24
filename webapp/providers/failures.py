"""Failure taxonomy (providers.md section 6): one code per failed refresh or provider API call.

Pure functions, no I/O: callers pass the HTTP status, the parsed body and the headers they got,
and decide what to do (retry, confirm, disconnect) from the returned ``Failure``. Classification
uses status codes and machine-readable fields only; free text is matched solely for the two Graph
messages the spec lists because they come without a code.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal

from webapp.timestamps import iso

__all__ = [
    "PROVIDERS",
    "TAXONOMY",
    "Failure",
    "ProviderFailure",
    "TaxonomyEntry",
    "classify_google_api_error",
    "classify_google_token_error",
    "classify_graph_error",
    "classify_microsoft_token_error",
    "failure_data",
    "failure_for",
    "make_failure",
    "network_failure",
    "parse_retry_after",
    "scrub_provider_error",
]

ActionRequiredBy = Literal["end_user", "integrator", "none"]
Disconnects = Literal["yes", "confirm", "no"]

PROVIDERS: Final = ("google", "microsoft")
_PROVIDER_LABELS: Final = {"google": "Google", "microsoft": "Microsoft"}


@dataclass(frozen=True)
class TaxonomyEntry:
    """One row of table 6.1: the fixed policy for a code plus the texts shown to people."""

    retryable: bool
    action_required_by: ActionRequiredBy
    disconnects: Disconnects
    summary: str  # what happened; ``{provider}`` is replaced by "Google" / "Microsoft"
    what_to_do: str


@dataclass(frozen=True)
class Failure:
    """A classified failure; everything in it is safe to store, log and return through the API."""

    code: str
    retryable: bool
    action_required_by: str
    disconnects: str
    message: str
    provider: str
    provider_error: dict[str, Any] | None = None
    provider_error_codes: list[int] = field(default_factory=list)
    provider_trace_id: str | None = None
    http_status: int | None = None
    retry_after: float | None = None


class ProviderFailure(Exception):
    """A provider call failed; ``failure`` says how (taxonomy code, who acts, retry hints).

    The one exception for it: raised by the sync's provider clients and the consent flow's token exchange.
    """

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.code)
        self.failure = failure


# "n/a" rows of 6.1 (admin_consent_required, access_denied: no connection exists yet) use "no";
# credentials_undecryptable is "no" because section 7 forbids per-row flips on key problems.
TAXONOMY: Final[dict[str, TaxonomyEntry]] = {
    "token_revoked": TaxonomyEntry(
        False,
        "end_user",
        "yes",
        "The {provider} refresh token has been revoked or has expired "
        "(access removed by the user or an admin, password reset, 6 months unused, or too many tokens).",
        "The end user must reconnect the calendar.",
    ),
    "token_expired_testing_mode": TaxonomyEntry(
        False,
        "integrator",
        "yes",
        "The Google OAuth app is in Testing mode: its refresh tokens expire 7 days after issue.",
        "The integrator must publish the app (set it to In production); publishing does not revive "
        "existing tokens, so existing end users must then reconnect.",
    ),
    "token_expired_inactivity": TaxonomyEntry(
        False,
        "end_user",
        "yes",
        "The {provider} refresh token expired through inactivity (90 days, or 24 hours for SPA redirect URIs).",
        "The end user must reconnect the calendar; the integrator should check that rotated refresh tokens "
        "are persisted and that the redirect URI is not registered as a SPA.",
    ),
    "session_policy_reauth": TaxonomyEntry(
        False,
        "end_user",
        "yes",
        "A {provider} session-control or sign-in frequency policy requires the user to sign in again.",
        "The end user must reconnect the calendar.",
    ),
    "consent_required": TaxonomyEntry(
        False,
        "end_user",
        "yes",
        "Consent for the calendar permissions is missing or was withdrawn in {provider}.",
        "The end user must reconnect and grant access; their tenant admin may need to approve the app.",
    ),
    "admin_consent_required": TaxonomyEntry(
        False,
        "end_user",
        "no",
        "The {provider} tenant requires an administrator to approve this app.",
        "The end user's tenant administrator must grant admin consent, then the end user can connect.",
    ),
    "mfa_required": TaxonomyEntry(
        False,
        "end_user",
        "yes",
        "{provider} now requires multi-factor authentication (or MFA registration) for this account.",
        "The end user must reconnect the calendar and complete MFA.",
    ),
    "admin_policy_blocked": TaxonomyEntry(
        False,
        "end_user",
        "yes",
        "An administrator policy in the user's {provider} organization blocks access for this app.",
        "The end user's administrator must allow the app (or adjust the policy); then the end user reconnects.",
    ),
    "client_secret_invalid": TaxonomyEntry(
        False,
        "integrator",
        "yes",
        "{provider} rejected the project's OAuth client credentials (wrong or expired client secret).",
        "The integrator must update the client secret in the project; affected calendars are re-checked "
        "automatically, end users need not reconnect.",
    ),
    "client_deleted": TaxonomyEntry(
        False,
        "integrator",
        "yes",
        "The project's {provider} OAuth client has been deleted.",
        "The integrator must restore the OAuth client or configure a new one; with a new client, "
        "end users must reconnect.",
    ),
    "client_misconfigured": TaxonomyEntry(
        False,
        "integrator",
        "yes",
        "The project's {provider} OAuth app is misconfigured (redirect URI, tenant or supported account types).",
        "The integrator must fix the app registration or the project's OAuth settings; end-user reconnects "
        "will not help until then.",
    ),
    "tenant_app_disabled": TaxonomyEntry(
        False,
        "end_user",
        "confirm",
        "The {provider} tenant's subscription has lapsed or its administrator has disabled this app.",
        "The end user's administrator must re-enable the app or renew the subscription.",
    ),
    "scope_insufficient": TaxonomyEntry(
        False,
        "end_user",
        "confirm",
        "The {provider} grant does not include the calendar permission.",
        "The end user must reconnect and allow calendar access.",
    ),
    "mailbox_unavailable": TaxonomyEntry(
        False,
        "end_user",
        "confirm",
        "The {provider} mailbox is inactive, soft-deleted or hosted on-premises.",
        "The end user's administrator must provide an Exchange Online mailbox or licence.",
    ),
    "calendar_not_found": TaxonomyEntry(
        False,
        "end_user",
        "confirm",
        "The {provider} calendar was not found: it was deleted or is no longer shared.",
        "The end user must restore access to the calendar, or the integrator removes it.",
    ),
    "rate_limited": TaxonomyEntry(
        True,
        "none",
        "no",
        "{provider} rate-limited the requests.",
        "Nothing to do: the service backs off and retries automatically.",
    ),
    "permission_denied_unclassified": TaxonomyEntry(
        True,
        "none",
        "confirm",
        "{provider} denied access without saying why.",
        "The service retries a few times; if it persists the end user must reconnect the calendar.",
    ),
    "provider_unavailable": TaxonomyEntry(
        True,
        "none",
        "no",
        "{provider} is temporarily unavailable.",
        "Nothing to do: the service retries automatically.",
    ),
    "network_error": TaxonomyEntry(
        True,
        "none",
        "no",
        "{provider} could not be reached (timeout, DNS, TLS or connection error).",
        "Nothing to do: the service retries automatically; check outbound connectivity if it persists.",
    ),
    "sync_state_lost": TaxonomyEntry(
        True,
        "none",
        "no",
        "The {provider} sync state expired.",
        "Nothing to do: the service runs a full resync.",
    ),
    "code_redemption_failed": TaxonomyEntry(
        False,
        "none",
        "no",
        "The {provider} authorization code could not be redeemed (already used, expired, or another tenant).",
        "Nothing to do if the calendar is already connected; otherwise start the connection again.",
    ),
    "access_denied": TaxonomyEntry(
        False,
        "end_user",
        "no",
        "The user did not grant access on the {provider} consent screen.",
        "The end user can start the connection again and allow access.",
    ),
    "credentials_missing": TaxonomyEntry(
        False,
        "integrator",
        "yes",
        "No {provider} refresh token or client secret is stored for this calendar.",
        "The integrator must supply the credentials, or the end user reconnects.",
    ),
    "credentials_undecryptable": TaxonomyEntry(
        False,
        "integrator",
        "no",
        "The stored {provider} credentials cannot be decrypted with the configured keys.",
        "The operator must restore the missing encryption key; reconnecting also overwrites the credentials.",
    ),
    "request_invalid": TaxonomyEntry(
        False,
        "none",
        "no",
        "{provider} rejected the request as invalid, or its response could not be understood.",
        "Nothing the end user can do: the operator should investigate (likely a bug).",
    ),
    "unknown_error": TaxonomyEntry(
        True,
        "none",
        "no",
        "An unexpected {provider} error occurred.",
        "The service retries a bounded number of times; the operator should investigate if it persists.",
    ),
}

# --- scrubbing ----------------------------------------------------------------------------------

_MAX_STRING: Final = 2000
_MAX_DEPTH: Final = 8
_SECRET_KEYS: Final = frozenset(
    {
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "clientsecret",
        "clientassertion",
        "assertion",
        "codeverifier",
        "password",
        "token",
        "authorization",
    }
)
# ``code`` is an authorization code at the top level of an OAuth body, but an error identifier
# inside ``error`` (Graph ``ErrorAccessDenied``, Google's numeric status), so it is dropped only there.
_TOP_LEVEL_SECRET_KEYS: Final = frozenset({"code"})
_SECRET_VALUE = re.compile(
    r"ya29\.[\w.-]+"  # Google access token
    r"|1//[\w-]{10,}"  # Google refresh token
    r"|eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*"  # JWT (Microsoft access/ID tokens)
    r"|(?i:bearer)\s+[\w.~+/=-]{10,}"
)
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _normal_key(key: str) -> str:
    """Compare keys ignoring case and separators: ``refresh_token``, ``refreshToken``, ``Refresh-Token``."""
    return key.strip().lower().replace("-", "").replace("_", "")


def _scrub_string(value: str) -> str:
    return _SECRET_VALUE.sub("[redacted]", value)[:_MAX_STRING]


def _scrub(value: Any, depth: int, top: bool) -> Any:
    if isinstance(value, str):
        return _scrub_string(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _normal_key(str(key))
            if name in _SECRET_KEYS or (top and name in _TOP_LEVEL_SECRET_KEYS):
                continue
            out[str(key)[:_MAX_STRING]] = _scrub(item, depth + 1, False)
        return out
    if isinstance(value, list | tuple):
        return [_scrub(item, depth + 1, False) for item in value]
    return _scrub_string(repr(value))


def scrub_provider_error(body: Any) -> dict[str, Any] | None:
    """The provider's error JSON without secrets; non-object bodies are wrapped as ``{"body": ...}``."""
    if body is None or body == "" or body == b"":
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    scrubbed = _scrub(body, 0, True)
    if isinstance(scrubbed, dict):
        return scrubbed
    return {"body": scrubbed}


# --- headers ------------------------------------------------------------------------------------


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def parse_retry_after(headers: Mapping[str, str] | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date); ``0`` and past dates mean 1 s."""
    raw = _header(headers, "Retry-After")
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(seconds, 1.0)


# --- construction -------------------------------------------------------------------------------


def make_failure(
    code: str,
    provider: str,
    *,
    status: int | None = None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    detail: str | None = None,
    error_codes: list[int] | None = None,
    trace_id: str | None = None,
) -> Failure:
    """Build a ``Failure`` for ``code`` with the taxonomy's policy and a safe message.

    Also for signals that are not HTTP errors: ``credentials_missing``, ``credentials_undecryptable``,
    ``access_denied`` at the callback, or ``scope_insufficient`` when the granted scope lacks the
    calendar scope. ``detail`` must be text the service wrote itself (identifiers, never provider
    free text or exception messages).
    """
    if code not in TAXONOMY:
        raise ValueError(f"unknown failure code: {code!r}")
    if provider not in _PROVIDER_LABELS:
        raise ValueError(f"unknown provider: {provider!r}")
    entry = TAXONOMY[code]
    message = f"{entry.summary.format(provider=_PROVIDER_LABELS[provider])} {entry.what_to_do}"
    if detail:
        message = f"{message} ({detail})"
    return Failure(
        code=code,
        retryable=entry.retryable,
        action_required_by=entry.action_required_by,
        disconnects=entry.disconnects,
        message=message,
        provider=provider,
        provider_error=scrub_provider_error(body),
        provider_error_codes=list(error_codes or []),
        provider_trace_id=trace_id[:200] if trace_id else None,
        http_status=status,
        retry_after=parse_retry_after(headers),
    )


def failure_for(code: str, provider: str) -> Failure:
    """A failure that has no HTTP response behind it (``credentials_missing``, ``access_denied``...)."""
    return make_failure(code, provider)


def _ident(value: Any) -> str | None:
    """A provider identifier that is safe to echo in a message (short, no spaces or slashes)."""
    if isinstance(value, str) and _IDENTIFIER.match(value):
        return value
    return None


def _detail(status: int | None, *parts: Any) -> str:
    items = [p for p in (_ident(x) if not isinstance(x, int) else str(x) for x in parts) if p]
    if status is not None:
        items.append(f"HTTP {status}")
    return ", ".join(items)


def _as_dict(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


def _str_field(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


# --- Google token endpoint ----------------------------------------------------------------------


def classify_google_token_error(
    status: int | None,
    body: Any,
    headers: Mapping[str, str] | None,
    *,
    testing_mode_suspected: bool = False,
    code_exchange: bool = False,
) -> Failure:
    """Classify a failed Google token request (refresh, or code exchange with ``code_exchange``).

    Branches only on ``error`` and ``error_subtype`` (1.8); descriptions vary and are ignored.
    ``testing_mode_suspected`` is the caller's Testing-mode signature from 1.6 row 6 (token about
    7 days old and the client marked Testing, or several tokens of the client failing at once).
    ``invalid_grant`` during a code exchange is a spent or expired code, not a revoked grant.
    ``unauthorized_client`` (refresh token minted for another client id) is treated like 700016.
    """
    data = _as_dict(body)
    error = _str_field(data, "error")
    subtype = _str_field(data, "error_subtype")

    def fail(code: str) -> Failure:
        return make_failure(
            code, "google", status=status, body=body, headers=headers, detail=_detail(status, error, subtype)
        )

    if status is not None and status >= 500:
        return fail("provider_unavailable")
    if status == 429:
        return fail("rate_limited")
    if error == "temporarily_unavailable":
        return fail("provider_unavailable")
    if subtype == "invalid_rapt":
        return fail("session_policy_reauth")
    if "admin_policy_enforced" in (error, subtype):
        return fail("admin_policy_blocked")
    if error == "invalid_grant":
        if code_exchange:
            return fail("code_redemption_failed")
        return fail("token_expired_testing_mode" if testing_mode_suspected else "token_revoked")
    if error == "invalid_client":
        return fail("client_secret_invalid")
    if error == "deleted_client":
        return fail("client_deleted")
    if error in ("redirect_uri_mismatch", "unauthorized_client"):
        return fail("client_misconfigured")
    if error == "access_denied":
        return fail("access_denied")
    if status == 401:  # 401 without a usable body: the client authentication failed
        return fail("client_secret_invalid")
    if status is not None and 400 <= status < 500:
        return fail("request_invalid")
    if status is not None and 200 <= status < 300:  # a 2xx we could not use: unparseable
        return fail("request_invalid")
    return fail("unknown_error")


# --- Google Calendar API ------------------------------------------------------------------------

_GOOGLE_RATE_LIMIT_REASONS: Final = frozenset(
    {
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "quotaExceeded",
        # ErrorInfo (details[]) spells reasons in upper snake case
        "RATE_LIMIT_EXCEEDED",
        "USER_RATE_LIMIT_EXCEEDED",
        "QUOTA_EXCEEDED",
    }
)
_GOOGLE_SCOPE_REASONS: Final = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
_GOOGLE_BACKEND_REASONS: Final = frozenset({"backendError", "internalError"})


def _google_reasons(error: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``errors[].reason`` + ``details[].reason`` values, and the ``errors[].domain`` values."""
    reasons: list[str] = []
    domains: list[str] = []
    for key in ("errors", "details"):
        items = error.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, Mapping):
                if isinstance(item.get("reason"), str):
                    reasons.append(item["reason"])
                if isinstance(item.get("domain"), str):
                    domains.append(item["domain"])
    return reasons, domains


def classify_google_api_error(status: int | None, body: Any, headers: Mapping[str, str] | None) -> Failure:
    """Classify a failed Calendar API v3 call (2.6, 6.2).

    403 follows the parsing order of 6.2: a rate-limit reason (or the ``usageLimits`` domain) wins,
    then a scope reason, else ``permission_denied_unclassified``. ``status: PERMISSION_DENIED`` is
    never looked at. A 404 here means the calendar is gone; the sync engine soft-deletes single
    events on 404 itself and must not call this for them.

    A 401 reaches this only after the sync engine has refreshed the access token once and retried
    once (2.6); it is then ``unknown_error`` (retryable, never disconnects): the refresh itself
    succeeded, so a real revocation will surface through the token endpoint on the next attempt.
    """
    data = _as_dict(body)
    error = data.get("error")
    error_obj: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    reasons, domains = _google_reasons(error_obj)
    first_reason = reasons[0] if reasons else None

    def fail(code: str, reason: str | None = first_reason) -> Failure:
        return make_failure(code, "google", status=status, body=body, headers=headers, detail=_detail(status, reason))

    if status == 403:
        rate = [r for r in reasons if r in _GOOGLE_RATE_LIMIT_REASONS]
        if rate or "usageLimits" in domains:
            return fail("rate_limited", rate[0] if rate else first_reason)
        scope = [r for r in reasons if r in _GOOGLE_SCOPE_REASONS]
        if scope:
            return fail("scope_insufficient", scope[0])
        return fail("permission_denied_unclassified")
    if status == 429 or any(r in _GOOGLE_RATE_LIMIT_REASONS for r in reasons):
        return fail("rate_limited")
    if status is not None and status >= 500:
        return fail("provider_unavailable")
    if any(r in _GOOGLE_BACKEND_REASONS for r in reasons):
        return fail("provider_unavailable")
    if status == 410:
        return fail("sync_state_lost")
    if status == 404:
        return fail("calendar_not_found")
    if status == 401:
        return fail("unknown_error")
    if status is not None and 400 <= status < 500:
        return fail("request_invalid")
    if status is not None and 200 <= status < 300:
        return fail("request_invalid")
    return fail("unknown_error")


# --- Microsoft identity platform ----------------------------------------------------------------

_AADSTS: Final[dict[int, str]] = {
    70008: "token_expired_inactivity",
    700082: "token_expired_inactivity",
    700084: "token_expired_inactivity",
    50173: "token_revoked",
    70000: "token_revoked",
    70043: "session_policy_reauth",
    65001: "consent_required",
    90094: "admin_consent_required",
    50076: "mfa_required",
    50079: "mfa_required",
    53003: "admin_policy_blocked",
    54005: "code_redemption_failed",
    700005: "code_redemption_failed",
    7000215: "client_secret_invalid",
    7000222: "client_secret_invalid",
    700016: "client_misconfigured",
    50194: "client_misconfigured",
    9002332: "client_misconfigured",
    50011: "client_misconfigured",
}
_MS_SUBERRORS: Final = {"consent_required": "consent_required", "basic_action": "mfa_required"}
_MS_ERRORS: Final = {
    "invalid_grant": "token_revoked",
    "invalid_client": "client_secret_invalid",
    "unauthorized_client": "client_misconfigured",
    "consent_required": "consent_required",
    "interaction_required": "mfa_required",
    "access_denied": "access_denied",
}


def _error_codes(value: Any) -> list[int]:
    codes: list[int] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, bool):
                continue
            if isinstance(item, int):
                codes.append(item)
            elif isinstance(item, str) and item.strip().isdigit():
                codes.append(int(item.strip()))
    return codes


def classify_microsoft_token_error(status: int | None, body: Any, headers: Mapping[str, str] | None) -> Failure:
    """Classify a failed Microsoft token request (3.5, 3.6) on ``error_codes``, ``suberror``, ``error``.

    ``error_description`` is never parsed (its text can change). A known AADSTS code wins; then the
    suberror (``consent_required``, ``basic_action``); then ``error``, so an unknown code with
    ``invalid_grant`` is ``token_revoked`` and one with ``invalid_client`` is ``client_secret_invalid``.
    """
    data = _as_dict(body)
    error = _str_field(data, "error")
    suberror = _str_field(data, "suberror")
    codes = _error_codes(data.get("error_codes"))
    trace_id = _str_field(data, "trace_id") or _header(headers, "x-ms-request-id") or None
    known = next((c for c in codes if c in _AADSTS), None)

    def fail(code: str) -> Failure:
        shown = known if known is not None else (codes[0] if codes else None)
        return make_failure(
            code,
            "microsoft",
            status=status,
            body=body,
            headers=headers,
            detail=_detail(status, f"AADSTS{shown}" if shown is not None else None, error, suberror),
            error_codes=codes,
            trace_id=trace_id,
        )

    if (status is not None and status >= 500) or error == "temporarily_unavailable":
        return fail("provider_unavailable")
    if status == 429:
        return fail("rate_limited")
    if known is not None:
        return fail(_AADSTS[known])
    if suberror in _MS_SUBERRORS:
        return fail(_MS_SUBERRORS[suberror])
    if error in _MS_ERRORS:
        return fail(_MS_ERRORS[error])
    if status is not None and 400 <= status < 500:
        return fail("request_invalid")
    if status is not None and 200 <= status < 300:
        return fail("request_invalid")
    return fail("unknown_error")


# --- Microsoft Graph ----------------------------------------------------------------------------

_GRAPH_MAILBOX_MESSAGE: Final = "the mailbox is either inactive, soft-deleted, or is hosted on-premise"
_GRAPH_TENANT_MESSAGES: Final = (
    "subscription within the tenant has lapsed",
    "administrator for this tenant has disabled the application",
)


def _normalized_message(error: Mapping[str, Any]) -> str:
    return " ".join(_str_field(error, "message").lower().split())


def classify_graph_error(status: int | None, body: Any, headers: Mapping[str, str] | None) -> Failure:
    """Classify a failed Graph v1.0 call (4.4, 6.1) on the status and ``error.code``.

    Only ``error.message`` is matched as text, and only for the mailbox and tenant-lapsed messages
    that come without a code (``MailboxNotEnabledForRESTAPI`` is accepted as the mailbox code).
    A 403 other than ``ErrorAccessDenied`` is ``permission_denied_unclassified`` (confirm rule).
    A 404 here means the calendar is gone; single-event 404s are soft-deletes handled by the caller.
    A 401 reaches this only after one refresh and one retry: ``unknown_error``, as for Google.
    """
    data = _as_dict(body)
    error = data.get("error")
    error_obj: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    code = _str_field(error_obj, "code")
    inner = error_obj.get("innerError") or error_obj.get("innererror")
    inner_obj: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
    trace_id = (
        _str_field(inner_obj, "request-id")
        or _header(headers, "request-id")
        or _header(headers, "client-request-id")
        or None
    )
    message = _normalized_message(error_obj)

    def fail(taxonomy_code: str) -> Failure:
        return make_failure(
            taxonomy_code,
            "microsoft",
            status=status,
            body=body,
            headers=headers,
            detail=_detail(status, code),
            trace_id=trace_id,
        )

    if status == 429 or code == "TooManyRequests":
        return fail("rate_limited")
    if status is not None and status >= 500:
        return fail("provider_unavailable")
    if status == 410 or code.lower() == "syncstatenotfound":
        return fail("sync_state_lost")
    if code == "MailboxNotEnabledForRESTAPI" or _GRAPH_MAILBOX_MESSAGE in message:
        return fail("mailbox_unavailable")
    if any(fragment in message for fragment in _GRAPH_TENANT_MESSAGES):
        return fail("tenant_app_disabled")
    if code == "ErrorAccessDenied":
        return fail("scope_insufficient")
    if status == 403:
        return fail("permission_denied_unclassified")
    if status == 404:
        return fail("calendar_not_found")
    if status == 401:
        return fail("unknown_error")
    if status is not None and 400 <= status < 500:
        return fail("request_invalid")
    if status is not None and 200 <= status < 300:
        return fail("request_invalid")
    return fail("unknown_error")


# --- transport and serialization ----------------------------------------------------------------


def network_failure(provider: str, exc: BaseException | None = None) -> Failure:
    """No HTTP response (timeout, DNS, TLS, reset): only the exception class name is kept.

    Exception texts can quote request URLs or bodies carrying tokens, so they are never stored.
    """
    return make_failure("network_error", provider, detail=type(exc).__name__ if exc is not None else None)


def failure_data(failure: Failure, *, now: datetime, attempts: int, first_failed_at: datetime | None) -> dict[str, Any]:
    """The ``connection_failure_data`` object: Attendee's ``error`` + ``timestamp``, then extensions.

    ``first_failed_at=None`` means this is the first failure, so it is set to ``now``.
    """
    return {
        "error": failure.message,
        "timestamp": iso(now),
        "code": failure.code,
        "retryable": failure.retryable,
        "action_required_by": failure.action_required_by,
        "provider": failure.provider,
        "provider_error": copy.deepcopy(failure.provider_error),
        "provider_error_codes": list(failure.provider_error_codes),
        "provider_trace_id": failure.provider_trace_id,
        "attempts": attempts,
        "first_failed_at": iso(first_failed_at if first_failed_at is not None else now),
    }
