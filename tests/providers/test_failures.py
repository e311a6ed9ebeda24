"""Failure classification against providers.md section 6 (table 6.1, rules 6.2) and table 3.6."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from webapp.providers.failures import (
    TAXONOMY,
    Failure,
    classify_google_api_error,
    classify_google_token_error,
    classify_graph_error,
    classify_microsoft_token_error,
    failure_data,
    failure_for,
    make_failure,
    network_failure,
    parse_retry_after,
    scrub_provider_error,
)

# Table 6.1 transcribed independently of the implementation: (retryable, acts, disconnects).
# "integrator + end_user" -> integrator; "n/a" -> "no"; "end_user's admin" -> end_user.
SPEC_POLICY: dict[str, tuple[bool, str, str]] = {
    "token_revoked": (False, "end_user", "yes"),
    "token_expired_testing_mode": (False, "integrator", "yes"),
    "token_expired_inactivity": (False, "end_user", "yes"),
    "session_policy_reauth": (False, "end_user", "yes"),
    "consent_required": (False, "end_user", "yes"),
    "admin_consent_required": (False, "end_user", "no"),
    "mfa_required": (False, "end_user", "yes"),
    "admin_policy_blocked": (False, "end_user", "yes"),
    "client_secret_invalid": (False, "integrator", "yes"),
    "client_deleted": (False, "integrator", "yes"),
    "client_misconfigured": (False, "integrator", "yes"),
    "tenant_app_disabled": (False, "end_user", "confirm"),
    "scope_insufficient": (False, "end_user", "confirm"),
    "mailbox_unavailable": (False, "end_user", "confirm"),
    "calendar_not_found": (False, "end_user", "confirm"),
    "rate_limited": (True, "none", "no"),
    "permission_denied_unclassified": (True, "none", "confirm"),
    "provider_unavailable": (True, "none", "no"),
    "network_error": (True, "none", "no"),
    "sync_state_lost": (True, "none", "no"),
    "code_redemption_failed": (False, "none", "no"),
    "access_denied": (False, "end_user", "no"),
    "credentials_missing": (False, "integrator", "yes"),
    "credentials_undecryptable": (False, "integrator", "no"),
    "request_invalid": (False, "none", "no"),
    "unknown_error": (True, "none", "no"),
}


def ms_token_body(code: int | None, error: str, suberror: str | None = None) -> dict[str, Any]:
    """The full Microsoft token error JSON of section 3.5."""
    description = f"AADSTS{code}: Something happened." if code else "Something happened."
    body: dict[str, Any] = {
        "error": error,
        "error_description": description + "\r\nTrace ID: 0b6e3c1e-1c2b-4a5e-9c1d-8a2b4d5f6e00"
        "\r\nCorrelation ID: 5d2a6c3f-9b1e-4d7a-8f2c-1e3b5a7c9d00\r\nTimestamp: 2025-07-15 00:50:12Z",
        "error_codes": [code] if code else [],
        "timestamp": "2025-07-15 00:50:12Z",
        "trace_id": "0b6e3c1e-1c2b-4a5e-9c1d-8a2b4d5f6e00",
        "correlation_id": "5d2a6c3f-9b1e-4d7a-8f2c-1e3b5a7c9d00",
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    if suberror:
        body["suberror"] = suberror
    return body


def google_api_body(
    status: int,
    message: str,
    errors: list[dict[str, str]] | None = None,
    *,
    rpc_status: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Calendar API error body (2.6), optionally with the newer ``status`` and ``details[]``."""
    error: dict[str, Any] = {"errors": errors or [], "code": status, "message": message}
    if rpc_status:
        error["status"] = rpc_status
    if details:
        error["details"] = details
    return {"error": error}


def error_info(reason: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "calendar-json.googleapis.com", "method": "calendar.v3.Events.List"},
    }


def graph_body(code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2025-07-15T00:50:12",
                "request-id": "7f3e2b1a-0000-4c5d-9e8f-123456789abc",
                "client-request-id": "7f3e2b1a-0000-4c5d-9e8f-123456789abc",
            },
        }
    }


REVOKED = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
MAILBOX_MESSAGE = "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
LAPSED_MESSAGE = (
    "AADSTS500014: The service principal for resource 'https://graph.microsoft.com' is disabled. "
    "This indicate that a subscription within the tenant has lapsed, or that the administrator for this "
    "tenant has disabled the application, preventing tokens from being issued for it."
)

# One case per row of table 6.1: (code, how the failure is produced).
TAXONOMY_ROWS: list[tuple[str, Callable[[], Failure]]] = [
    ("token_revoked", lambda: classify_google_token_error(400, REVOKED, None)),
    (
        "token_expired_testing_mode",
        lambda: classify_google_token_error(400, REVOKED, None, testing_mode_suspected=True),
    ),
    (
        "token_expired_inactivity",
        lambda: classify_microsoft_token_error(400, ms_token_body(700082, "invalid_grant"), None),
    ),
    (
        "session_policy_reauth",
        lambda: classify_google_token_error(
            400,
            {"error": "invalid_grant", "error_description": "reauth related error", "error_subtype": "invalid_rapt"},
            None,
        ),
    ),
    (
        "consent_required",
        lambda: classify_microsoft_token_error(400, ms_token_body(None, "consent_required"), None),
    ),
    (
        "admin_consent_required",
        lambda: classify_microsoft_token_error(400, ms_token_body(90094, "invalid_request"), None),
    ),
    (
        "mfa_required",
        lambda: classify_microsoft_token_error(400, ms_token_body(None, "interaction_required"), None),
    ),
    (
        "admin_policy_blocked",
        lambda: classify_google_token_error(
            400, {"error": "admin_policy_enforced", "error_description": "Access blocked by admin."}, None
        ),
    ),
    (
        "client_secret_invalid",
        lambda: classify_google_token_error(
            401, {"error": "invalid_client", "error_description": "Unauthorized"}, None
        ),
    ),
    (
        "client_deleted",
        lambda: classify_google_token_error(
            401, {"error": "deleted_client", "error_description": "The OAuth client was deleted."}, None
        ),
    ),
    (
        "client_misconfigured",
        lambda: classify_google_token_error(
            400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}, None
        ),
    ),
    ("tenant_app_disabled", lambda: classify_graph_error(401, graph_body("", LAPSED_MESSAGE), None)),
    (
        "scope_insufficient",
        lambda: classify_google_api_error(
            403,
            google_api_body(
                403,
                "Request had insufficient authentication scopes.",
                [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
                rpc_status="PERMISSION_DENIED",
                details=[error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT")],
            ),
            None,
        ),
    ),
    ("mailbox_unavailable", lambda: classify_graph_error(404, graph_body("", MAILBOX_MESSAGE), None)),
    (
        "calendar_not_found",
        lambda: classify_google_api_error(
            404,
            google_api_body(404, "Not Found", [{"domain": "global", "reason": "notFound", "message": "Not Found"}]),
            None,
        ),
    ),
    (
        "rate_limited",
        lambda: classify_google_api_error(
            429,
            google_api_body(
                429,
                "Rate Limit Exceeded",
                [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}],
            ),
            {"Retry-After": "2"},
        ),
    ),
    (
        "permission_denied_unclassified",
        lambda: classify_google_api_error(
            403, google_api_body(403, "The caller does not have permission", rpc_status="PERMISSION_DENIED"), None
        ),
    ),
    (
        "provider_unavailable",
        lambda: classify_microsoft_token_error(503, ms_token_body(None, "temporarily_unavailable"), None),
    ),
    ("network_error", lambda: network_failure("google", TimeoutError("read timed out"))),
    (
        "sync_state_lost",
        lambda: classify_google_api_error(
            410,
            google_api_body(
                410,
                "Sync token is no longer valid, a full sync is required.",
                [
                    {
                        "domain": "calendar",
                        "reason": "fullSyncRequired",
                        "message": "Sync token is no longer valid, a full sync is required.",
                        "locationType": "parameter",
                        "location": "syncToken",
                    }
                ],
            ),
            None,
        ),
    ),
    (
        "code_redemption_failed",
        lambda: classify_google_token_error(
            400, {"error": "invalid_grant", "error_description": "Bad Request"}, None, code_exchange=True
        ),
    ),
    ("access_denied", lambda: failure_for("access_denied", "google")),
    ("credentials_missing", lambda: failure_for("credentials_missing", "microsoft")),
    ("credentials_undecryptable", lambda: failure_for("credentials_undecryptable", "google")),
    (
        "request_invalid",
        lambda: classify_google_api_error(
            400,
            google_api_body(
                400, "The specified time range is empty.", [{"domain": "calendar", "reason": "timeRangeEmpty"}]
            ),
            None,
        ),
    ),
    (
        "unknown_error",
        lambda: classify_google_api_error(
            401,
            google_api_body(
                401,
                "Invalid Credentials",
                [
                    {
                        "domain": "global",
                        "reason": "authError",
                        "message": "Invalid Credentials",
                        "locationType": "header",
                        "location": "Authorization",
                    }
                ],
            ),
            None,
        ),
    ),
]


def test_taxonomy_covers_table_6_1_exactly() -> None:
    assert set(TAXONOMY) == set(SPEC_POLICY)
    assert {code for code, _ in TAXONOMY_ROWS} == set(SPEC_POLICY)
    for code, entry in TAXONOMY.items():
        assert (entry.retryable, entry.action_required_by, entry.disconnects) == SPEC_POLICY[code], code
        assert entry.summary and entry.what_to_do


@pytest.mark.parametrize(("code", "produce"), TAXONOMY_ROWS, ids=[code for code, _ in TAXONOMY_ROWS])
def test_table_6_1_row(code: str, produce: Callable[[], Failure]) -> None:
    failure = produce()
    assert failure.code == code
    assert (failure.retryable, failure.action_required_by, failure.disconnects) == SPEC_POLICY[code]
    assert failure.message.strip()


def test_testing_mode_message_says_publish_and_reconnect() -> None:
    failure = classify_google_token_error(400, REVOKED, None, testing_mode_suspected=True)
    assert "Testing mode" in failure.message
    assert "7 days" in failure.message
    assert "publish" in failure.message
    assert "reconnect" in failure.message


# --- table 3.6 ----------------------------------------------------------------------------------

AADSTS_ROWS = [
    (70008, "invalid_grant", None, "token_expired_inactivity"),
    (700082, "invalid_grant", None, "token_expired_inactivity"),
    (700084, "invalid_grant", None, "token_expired_inactivity"),
    (50173, "invalid_grant", None, "token_revoked"),
    (70043, "invalid_grant", None, "session_policy_reauth"),
    (70000, "invalid_grant", None, "token_revoked"),
    (65001, "invalid_grant", "consent_required", "consent_required"),
    (90094, "invalid_request", None, "admin_consent_required"),
    (50076, "invalid_grant", "basic_action", "mfa_required"),
    (50079, "interaction_required", None, "mfa_required"),
    (50079, "invalid_grant", None, "mfa_required"),
    (53003, "invalid_grant", None, "admin_policy_blocked"),
    (53003, "access_denied", None, "admin_policy_blocked"),
    (54005, "invalid_grant", None, "code_redemption_failed"),
    (700005, "invalid_grant", None, "code_redemption_failed"),
    (7000215, "invalid_client", None, "client_secret_invalid"),
    (7000222, "invalid_client", None, "client_secret_invalid"),
    (700016, "unauthorized_client", None, "client_misconfigured"),
    (50194, "invalid_request", None, "client_misconfigured"),
    (9002332, "invalid_request", None, "client_misconfigured"),
    (50011, "invalid_request", None, "client_misconfigured"),
]


@pytest.mark.parametrize(
    ("aadsts", "error", "suberror", "expected"),
    AADSTS_ROWS,
    ids=[f"AADSTS{row[0]}-{row[1]}" for row in AADSTS_ROWS],
)
def test_table_3_6_row(aadsts: int, error: str, suberror: str | None, expected: str) -> None:
    failure = classify_microsoft_token_error(400, ms_token_body(aadsts, error, suberror), None)
    assert failure.code == expected
    assert failure.provider == "microsoft"
    assert failure.provider_error_codes == [aadsts]
    assert failure.provider_trace_id == "0b6e3c1e-1c2b-4a5e-9c1d-8a2b4d5f6e00"
    assert f"AADSTS{aadsts}" in failure.message


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, ms_token_body(None, "temporarily_unavailable"), "provider_unavailable"),
        (500, ms_token_body(None, "server_error"), "provider_unavailable"),
        (503, "<html>Service Unavailable</html>", "provider_unavailable"),
        (400, ms_token_body(99999999, "invalid_grant"), "token_revoked"),  # unknown code + invalid_grant
        (401, ms_token_body(99999999, "invalid_client"), "client_secret_invalid"),  # unknown + invalid_client
        (400, ms_token_body(None, "invalid_grant", "consent_required"), "consent_required"),
        (400, ms_token_body(None, "invalid_grant", "basic_action"), "mfa_required"),
        (400, ms_token_body(None, "invalid_scope"), "request_invalid"),
        (400, "not json", "request_invalid"),
        (None, None, "unknown_error"),
    ],
)
def test_microsoft_token_fallbacks(status: int | None, body: Any, expected: str) -> None:
    assert classify_microsoft_token_error(status, body, None).code == expected


def test_microsoft_token_error_description_is_never_parsed() -> None:
    body = ms_token_body(None, "invalid_request")
    body["error_description"] = "AADSTS50173: The provided grant has expired due to it being revoked."
    assert classify_microsoft_token_error(400, body, None).code == "request_invalid"


def test_microsoft_error_codes_as_strings_are_accepted() -> None:
    body = ms_token_body(None, "invalid_grant")
    body["error_codes"] = ["700082"]
    failure = classify_microsoft_token_error(400, body, None)
    assert failure.code == "token_expired_inactivity"
    assert failure.provider_error_codes == [700082]


# --- Google token endpoint ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, REVOKED, "token_revoked"),
        (400, {"error": "invalid_grant", "error_description": "Bad Request"}, "token_revoked"),
        (
            400,
            {"error": "invalid_grant", "error_description": "…", "error_subtype": "invalid_rapt"},
            "session_policy_reauth",
        ),
        (
            400,
            {"error": "invalid_grant", "error_description": "…", "error_subtype": "admin_policy_enforced"},
            "admin_policy_blocked",
        ),
        (401, {"error": "invalid_client", "error_description": "Unauthorized"}, "client_secret_invalid"),
        (401, {"error": "deleted_client", "error_description": "…"}, "client_deleted"),
        (400, {"error": "redirect_uri_mismatch", "error_description": "…"}, "client_misconfigured"),
        (503, {"error": "temporarily_unavailable"}, "provider_unavailable"),
        (400, {"error": "temporarily_unavailable"}, "provider_unavailable"),
        (502, "<html>Bad Gateway</html>", "provider_unavailable"),
        (429, None, "rate_limited"),
        (400, {"error": "invalid_request", "error_description": "Missing required parameter"}, "request_invalid"),
        (400, {"error": "invalid_scope"}, "request_invalid"),
        (400, "Bad Request", "request_invalid"),
        (None, None, "unknown_error"),
    ],
)
def test_google_token_errors(status: int | None, body: Any, expected: str) -> None:
    assert classify_google_token_error(status, body, None).code == expected


def test_google_token_description_does_not_change_the_code() -> None:
    body = {"error": "invalid_request", "error_description": "Token has been expired or revoked."}
    assert classify_google_token_error(400, body, None).code == "request_invalid"


def test_invalid_rapt_wins_over_testing_mode() -> None:
    body = {"error": "invalid_grant", "error_subtype": "invalid_rapt"}
    assert classify_google_token_error(400, body, None, testing_mode_suspected=True).code == "session_policy_reauth"


# --- Google Calendar API, 403 parsing order ------------------------------------------------------


def usage_limit(reason: str, message: str) -> list[dict[str, str]]:
    return [{"domain": "usageLimits", "reason": reason, "message": message}]


GOOGLE_403_CASES = [
    (
        "rateLimitExceeded",
        google_api_body(403, "Rate Limit Exceeded", usage_limit("rateLimitExceeded", "Rate Limit Exceeded")),
        "rate_limited",
    ),
    (
        "userRateLimitExceeded",
        google_api_body(
            403, "User Rate Limit Exceeded", usage_limit("userRateLimitExceeded", "User Rate Limit Exceeded")
        ),
        "rate_limited",
    ),
    (
        "quotaExceeded",
        google_api_body(
            403, "Calendar usage limits exceeded.", usage_limit("quotaExceeded", "Calendar usage limits exceeded.")
        ),
        "rate_limited",
    ),
    (
        "rateLimitExceeded-with-PERMISSION_DENIED",
        google_api_body(
            403,
            "Rate Limit Exceeded",
            usage_limit("rateLimitExceeded", "Rate Limit Exceeded"),
            rpc_status="PERMISSION_DENIED",
        ),
        "rate_limited",
    ),
    (
        "details-RATE_LIMIT_EXCEEDED-with-PERMISSION_DENIED",
        google_api_body(
            403, "Quota exceeded", rpc_status="PERMISSION_DENIED", details=[error_info("RATE_LIMIT_EXCEEDED")]
        ),
        "rate_limited",
    ),
    (
        "rate-limit-beats-scope",
        google_api_body(
            403,
            "Rate Limit Exceeded",
            usage_limit("userRateLimitExceeded", "User Rate Limit Exceeded"),
            rpc_status="PERMISSION_DENIED",
            details=[error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT")],
        ),
        "rate_limited",
    ),
    (
        "insufficientPermissions",
        google_api_body(
            403,
            "Insufficient Permission",
            [{"domain": "global", "reason": "insufficientPermissions", "message": "Insufficient Permission"}],
        ),
        "scope_insufficient",
    ),
    (
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        google_api_body(
            403,
            "Request had insufficient authentication scopes.",
            rpc_status="PERMISSION_DENIED",
            details=[error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT")],
        ),
        "scope_insufficient",
    ),
    (
        "forbidden",
        google_api_body(403, "Forbidden", [{"domain": "global", "reason": "forbidden", "message": "Forbidden"}]),
        "permission_denied_unclassified",
    ),
    (
        "PERMISSION_DENIED-only",
        google_api_body(403, "The caller does not have permission", rpc_status="PERMISSION_DENIED"),
        "permission_denied_unclassified",
    ),
    ("no-body", None, "permission_denied_unclassified"),
    (
        "PERMISSION_DENIED-in-text-only",
        "PERMISSION_DENIED ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "permission_denied_unclassified",
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in GOOGLE_403_CASES], ids=[c[0] for c in GOOGLE_403_CASES])
def test_google_403_parsing_order(body: Any, expected: str) -> None:
    failure = classify_google_api_error(403, body, None)
    assert failure.code == expected
    if expected == "rate_limited":
        assert failure.disconnects == "no"
        assert failure.retryable


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            404,
            google_api_body(404, "Not Found", [{"domain": "global", "reason": "notFound", "message": "Not Found"}]),
            "calendar_not_found",
        ),
        (410, None, "sync_state_lost"),  # 410 is authoritative even without fullSyncRequired
        (
            410,
            google_api_body(410, "Gone", [{"domain": "calendar", "reason": "updatedMinTooLongAgo"}]),
            "sync_state_lost",
        ),
        (
            429,
            google_api_body(429, "Too Many Requests", usage_limit("rateLimitExceeded", "Rate Limit Exceeded")),
            "rate_limited",
        ),
        (
            500,
            google_api_body(500, "Backend Error", [{"domain": "global", "reason": "backendError"}]),
            "provider_unavailable",
        ),
        (502, "<html>502</html>", "provider_unavailable"),
        (
            503,
            google_api_body(503, "Backend Error", [{"domain": "global", "reason": "backendError"}]),
            "provider_unavailable",
        ),
        (400, google_api_body(400, "Bad Request", [{"domain": "global", "reason": "badRequest"}]), "request_invalid"),
        (200, "<html>not json</html>", "request_invalid"),
    ],
)
def test_google_api_statuses(status: int, body: Any, expected: str) -> None:
    assert classify_google_api_error(status, body, None).code == expected


def test_google_api_401_is_retryable_and_never_disconnects() -> None:
    failure = classify_google_api_error(401, google_api_body(401, "Invalid Credentials"), None)
    assert (failure.code, failure.retryable, failure.disconnects) == ("unknown_error", True, "no")


# --- Graph ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (
            403,
            graph_body("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
            None,
            "scope_insufficient",
        ),
        (
            404,
            graph_body("MailboxNotEnabledForRESTAPI", "REST API is not yet supported for this mailbox."),
            None,
            "mailbox_unavailable",
        ),
        (404, graph_body("ResourceNotFound", MAILBOX_MESSAGE), None, "mailbox_unavailable"),
        (401, graph_body("OrganizationFromTenantGuidNotFound", MAILBOX_MESSAGE.upper()), None, "mailbox_unavailable"),
        (401, graph_body("", LAPSED_MESSAGE), None, "tenant_app_disabled"),
        (
            403,
            graph_body("AuthenticationError", LAPSED_MESSAGE.replace("indicate", "indicates")),
            None,
            "tenant_app_disabled",
        ),
        (
            404,
            graph_body("ErrorItemNotFound", "The specified object was not found in the store."),
            None,
            "calendar_not_found",
        ),
        (
            410,
            graph_body("SyncStateNotFound", "The sync state could not be found."),
            {"Location": "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken="},
            "sync_state_lost",
        ),
        (
            410,
            None,
            {"Location": "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken="},
            "sync_state_lost",
        ),
        (400, graph_body("syncStateNotFound", "Sync state not found."), None, "sync_state_lost"),
        (
            429,
            {
                "error": {
                    "code": "TooManyRequests",
                    "innerError": {
                        "code": "429",
                        "date": "2025-07-15T00:50:12",
                        "message": "Please retry after",
                        "request-id": "r-1",
                        "status": "429",
                    },
                    "message": "Please retry again later.",
                }
            },
            {"Retry-After": "2"},
            "rate_limited",
        ),
        (503, graph_body("ServiceNotAvailable", "Service unavailable"), None, "provider_unavailable"),
        (504, None, None, "provider_unavailable"),
        (500, graph_body("ErrorAccessDenied", "transient"), None, "provider_unavailable"),
        (
            401,
            graph_body("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
            None,
            "unknown_error",
        ),
        (
            403,
            graph_body("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
            None,
            "permission_denied_unclassified",
        ),
        (400, graph_body("ErrorInvalidParameter", "Unsupported query option '$select'."), None, "request_invalid"),
    ],
)
def test_graph_errors(status: int, body: Any, headers: dict[str, str] | None, expected: str) -> None:
    failure = classify_graph_error(status, body, headers)
    assert failure.code == expected
    assert failure.provider == "microsoft"


def test_graph_trace_id_and_retry_after() -> None:
    failure = classify_graph_error(
        429, graph_body("TooManyRequests", "Please retry again later."), {"retry-after": "7"}
    )
    assert failure.provider_trace_id == "7f3e2b1a-0000-4c5d-9e8f-123456789abc"
    assert failure.retry_after == 7.0
    assert failure.http_status == 429


def test_graph_access_denied_only_via_code_not_body_text() -> None:
    body = graph_body("ErrorInvalidRequest", "ErrorAccessDenied appears only in the text here")
    assert classify_graph_error(400, body, None).code == "request_invalid"


# --- Retry-After ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "0"}, 1.0),
        ({"retry-after": "30"}, 30.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "-5"}, 1.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2025, 7, 15, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "Tue, 15 Jul 2025 12:00:30 GMT"}, now=now) == 30.0
    assert parse_retry_after({"Retry-After": "Tue, 15 Jul 2025 11:00:00 GMT"}, now=now) == 1.0


def test_retry_after_reaches_the_failure() -> None:
    google_rate = google_api_body(403, "Rate Limit Exceeded", usage_limit("rateLimitExceeded", "Rate Limit Exceeded"))
    assert classify_google_api_error(403, google_rate, {"Retry-After": "0"}).retry_after == 1.0
    assert classify_google_api_error(403, google_rate, None).retry_after is None
    assert classify_graph_error(429, None, {"Retry-After": "2"}).retry_after == 2.0


# --- scrubbing ------------------------------------------------------------------------------------

JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJlc2lnbmF0dXJl"


def test_scrub_drops_secret_keys_everywhere() -> None:
    body = {
        "error": "invalid_grant",
        "access_token": "ya29.a0AfH6SM",
        "refresh_token": "1//0gLongRefreshToken",
        "id_token": JWT,
        "client_secret": "GOCSPX-secret",
        "code": "4/0AX4XfWh-authorization-code",
        "assertion": "signed",
        "nested": {"refreshToken": "AwABAAAA", "Client-Secret": "x", "ok": "kept"},
        "list": [{"access_token": "ya29.b"}, "plain"],
    }
    scrubbed = scrub_provider_error(body)
    assert scrubbed == {"error": "invalid_grant", "nested": {"ok": "kept"}, "list": [{}, "plain"]}
    assert body["access_token"] == "ya29.a0AfH6SM"  # the input is not mutated


def test_scrub_keeps_error_identifiers_named_code() -> None:
    graph = graph_body("ErrorAccessDenied", "Access is denied.")
    assert scrub_provider_error(graph) == graph
    google = google_api_body(403, "Forbidden", [{"domain": "global", "reason": "forbidden"}])
    assert scrub_provider_error(google) == google


def test_scrub_redacts_token_looking_values_and_caps_length() -> None:
    body = {
        "error_description": f"bad token {JWT} and ya29.a0AfH6SMBx and Bearer abcdefghijklmnop",
        "long": "x" * 5000,
    }
    scrubbed = scrub_provider_error(body)
    assert scrubbed is not None
    text = json.dumps(scrubbed)
    assert JWT not in text and "ya29." not in text and "abcdefghijklmnop" not in text
    assert len(scrubbed["long"]) == 2000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, None),
        ("", None),
        ("<html>Service Unavailable</html>", {"body": "<html>Service Unavailable</html>"}),
        (["a", 1], {"body": ["a", 1]}),
    ],
)
def test_scrub_non_object_bodies(body: Any, expected: dict[str, Any] | None) -> None:
    assert scrub_provider_error(body) == expected


def test_classified_failure_holds_no_secret() -> None:
    body = {**REVOKED, "refresh_token": "1//0gSecretRefresh", "error_description": "Token 1//0gSecretRefresh expired"}
    failure = classify_google_token_error(400, body, None)
    dumped = json.dumps(failure_data(failure, now=datetime(2025, 1, 1, tzinfo=UTC), attempts=1, first_failed_at=None))
    assert "1//0gSecretRefresh" not in dumped
    assert "0gSecretRefresh" not in failure.message


def test_network_failure_keeps_only_the_exception_class() -> None:
    exc = ConnectionError("GET https://oauth2.googleapis.com/token?refresh_token=1//0gLeaky failed")
    failure = network_failure("microsoft", exc)
    assert failure.code == "network_error"
    assert "ConnectionError" in failure.message
    assert "Leaky" not in failure.message and "https://" not in failure.message
    assert failure.provider_error is None
    assert network_failure("google").retryable


def test_make_failure_rejects_unknown_code_and_provider() -> None:
    with pytest.raises(ValueError):
        make_failure("token_exploded", "google")
    with pytest.raises(ValueError):
        make_failure("token_revoked", "zoom")


# --- connection_failure_data ----------------------------------------------------------------------


def test_failure_data_shape() -> None:
    failure = classify_microsoft_token_error(400, ms_token_body(50173, "invalid_grant"), None)
    now = datetime(2025, 1, 13, 10, 30, 0, 123456, tzinfo=UTC)
    first = now - timedelta(hours=2)
    data = failure_data(failure, now=now, attempts=3, first_failed_at=first)
    assert list(data) == [
        "error",
        "timestamp",
        "code",
        "retryable",
        "action_required_by",
        "provider",
        "provider_error",
        "provider_error_codes",
        "provider_trace_id",
        "attempts",
        "first_failed_at",
    ]
    assert data["error"] == failure.message
    assert data["timestamp"] == "2025-01-13T10:30:00.123456Z"
    assert data["first_failed_at"] == "2025-01-13T08:30:00.123456Z"
    assert data["code"] == "token_revoked"
    assert data["retryable"] is False
    assert data["action_required_by"] == "end_user"
    assert data["provider"] == "microsoft"
    assert data["provider_error"]["error_codes"] == [50173]
    assert data["provider_error_codes"] == [50173]
    assert data["provider_trace_id"] == "0b6e3c1e-1c2b-4a5e-9c1d-8a2b4d5f6e00"
    assert data["attempts"] == 3
    json.dumps(data)  # JSON-serializable as stored
    data["provider_error"]["error"] = "mutated"
    assert failure.provider_error is not None and failure.provider_error["error"] == "invalid_grant"


def test_failure_data_defaults_and_timezones() -> None:
    failure = failure_for("credentials_missing", "google")
    offset = datetime(2025, 1, 13, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    data = failure_data(failure, now=offset, attempts=1, first_failed_at=None)
    assert data["timestamp"] == "2025-01-13T12:00:00.000000Z"
    assert data["first_failed_at"] == data["timestamp"]
    naive = failure_data(failure, now=datetime(2025, 1, 13, 12, 0), attempts=1, first_failed_at=None)
    assert naive["timestamp"] == "2025-01-13T12:00:00.000000Z"
    assert data["provider_error"] is None and data["provider_error_codes"] == []
