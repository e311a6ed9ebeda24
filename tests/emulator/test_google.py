"""Emulated Google: OAuth, Calendar API, push channels, control API."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.emulation import (
    ALICE,
    BOB,
    CLIENT_ID,
    CLIENT_SECRET,
    GOOGLE_CAL,
    REDIRECT_URI,
    Provider,
    Receiver,
    fp,
    pkce_pair,
    query_of,
)

SCOPES = f"openid email {GOOGLE_CAL}"


def authorize(google: Provider, **params: str) -> Any:
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPES,
        "access_type": "offline",
        "prompt": "consent",
        "state": "xyz",
        **params,
    }
    return google.get("/o/oauth2/v2/auth", params=query)


def get_code(google: Provider, verifier_challenge: tuple[str, str] | None = None, **params: str) -> str:
    google.settings(auto_approve=True)
    if verifier_challenge:
        params.update(code_challenge=verifier_challenge[1], code_challenge_method="S256")
    response = authorize(google, **params)
    assert response.status_code == 302, response.text
    query = query_of(response.headers["Location"])
    assert query["state"] == "xyz"
    return query["code"]


def exchange(google: Provider, code: str, verifier: str | None = None, **form: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    data.update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    if verifier:
        data["code_verifier"] = verifier
    data.update(form)
    return google.send("POST", "/token", data=data)


def connect(google: Provider, **params: str) -> dict[str, Any]:
    pair = pkce_pair()
    response = exchange(google, get_code(google, pair, **params), pair[0])
    assert response.status_code == 200, response.text
    return dict(response.json())


def refresh(google: Provider, token: str, **form: str) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": CLIENT_ID}
    data.update(client_secret=CLIENT_SECRET, **form)
    return google.send("POST", "/token", data=data)


def seed_events(google: Provider, *events: dict[str, Any]) -> None:
    google.control("seed", {"events": [{"user": ALICE, **e} for e in events]})


# -- discovery, consent -------------------------------------------------------------------------


def test_discovery_jwks_and_signed_id_token(google: Provider) -> None:
    meta = google.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == google.base
    assert meta["token_endpoint"] == google.base + "/token"
    keys = KeySet.import_key_set(google.get("/oauth2/v3/certs").json())
    pair = pkce_pair()
    code = get_code(google, pair, nonce="n-123")
    tokens = exchange(google, code, pair[0]).json()
    claims = jwt.decode(tokens["id_token"], keys).claims
    assert claims["iss"] == google.base
    assert claims["aud"] == CLIENT_ID
    assert claims["email"] == ALICE and claims["nonce"] == "n-123"
    info = google.get("/v1/userinfo", tokens["access_token"]).json()
    assert info["email"] == ALICE and info["sub"] == claims["sub"]
    assert google.get("/v1/userinfo").status_code == 401


def test_consent_page_allow_with_unticked_scope_and_deny(google: Provider) -> None:
    page = authorize(google, login_hint=BOB)
    assert page.status_code == 200
    assert page.text.count('name="grant_scope"') == 3
    assert f'value="{BOB}" checked' in page.text
    assert 'value="allow"' in page.text and 'value="deny"' in page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert hidden["client_id"] == CLIENT_ID
    form = {**hidden, "account": BOB, "decision": "allow", "grant_scope": ["openid", google_email()]}
    allowed = google.send("POST", "/o/oauth2/v2/auth", data=form)
    assert allowed.status_code == 302
    tokens = exchange(google, query_of(allowed.headers["Location"])["code"]).json()
    assert GOOGLE_CAL not in tokens["scope"].split()
    forbidden = google.get("/calendar/v3/calendars/primary", tokens["access_token"])
    assert forbidden.status_code == 403
    error = forbidden.json()["error"]
    assert error["errors"][0]["reason"] == "insufficientPermissions"
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    denied = google.send("POST", "/o/oauth2/v2/auth", data={**hidden, "account": BOB, "decision": "deny"})
    assert query_of(denied.headers["Location"]) == {"error": "access_denied", "state": "xyz"}


def google_email() -> str:
    return "https://www.googleapis.com/auth/userinfo.email"


def test_authorize_validates_client_redirect_and_response_type(google: Provider) -> None:
    assert authorize(google, client_id="nope").status_code == 401
    bad_redirect = authorize(google, redirect_uri=REDIRECT_URI + "/")
    assert bad_redirect.status_code == 400 and "redirect_uri_mismatch" in bad_redirect.text
    wrong_type = authorize(google, response_type="token")
    assert query_of(wrong_type.headers["Location"])["error"] == "unsupported_response_type"
    google.settings(allow_prompt_list=False)
    assert authorize(google, prompt="consent select_account").status_code == 400


# -- codes and tokens ---------------------------------------------------------------------------


def test_code_is_single_use_and_expires(google: Provider) -> None:
    code = get_code(google)
    assert exchange(google, code).status_code == 200
    reused = exchange(google, code)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    late = get_code(google)
    google.advance(601)
    assert exchange(google, late).json() == {"error": "invalid_grant", "error_description": "Bad Request"}


def test_code_checks_pkce_redirect_and_client_auth(google: Provider) -> None:
    pair = pkce_pair()
    code = get_code(google, pair)
    assert exchange(google, code).json()["error_description"] == "Missing code verifier."
    assert exchange(google, code, "wrong-verifier").json()["error"] == "invalid_grant"
    mismatch = exchange(google, code, pair[0], redirect_uri=REDIRECT_URI + "x")
    assert mismatch.json()["error"] == "redirect_uri_mismatch"
    bad_secret = exchange(google, code, pair[0], client_secret="wrong")
    assert bad_secret.status_code == 401
    assert bad_secret.json() == {"error": "invalid_client", "error_description": "Unauthorized"}
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    data["code_verifier"] = pair[0]
    ok = google.send("POST", "/token", data=data, headers={"Authorization": f"Basic {basic}"})
    assert ok.status_code == 200 and ok.json()["token_type"] == "Bearer"
    assert ok.json()["expires_in"] == 3599


def test_refresh_token_only_offline_and_first_or_forced_consent(google: Provider) -> None:
    assert "refresh_token" not in connect(google, access_type="online")
    assert "refresh_token" in connect(google)  # first offline consent for this user
    assert "refresh_token" not in connect(google, prompt="")  # reconnect without prompt=consent
    assert "refresh_token" in connect(google, prompt="consent")
    assert "refresh_token" in connect(google, prompt="", login_hint=BOB)  # Bob's first consent


def test_refresh_has_no_rotation_and_scope_is_logged(google: Provider) -> None:
    tokens = connect(google)
    first = refresh(google, tokens["refresh_token"])
    assert first.status_code == 200
    body = first.json()
    assert "refresh_token" not in body and body["access_token"] != tokens["access_token"]
    assert "id_token" in body
    call = google.calls("token")[-1]
    assert call["grant_type"] == "refresh_token"
    assert "scope" not in call["form_keys"]
    assert call["refresh_token_fp"] == fp(tokens["refresh_token"])
    assert call["form"]["refresh_token"] == "<redacted>" and call["form"]["client_secret"] == "<redacted>"
    assert tokens["refresh_token"] not in str(google.calls())
    assert refresh(google, tokens["refresh_token"], scope=GOOGLE_CAL).status_code == 200
    assert "scope" in google.calls("token")[-1]["form_keys"]
    google.settings(reject_scope_on_refresh=True)
    assert refresh(google, tokens["refresh_token"], scope=GOOGLE_CAL).status_code == 400
    assert refresh(google, tokens["refresh_token"]).status_code == 200


def test_revocation_and_revoke_endpoint(google: Provider) -> None:
    tokens = connect(google)
    google.control("revoke-user-grants", {"email": ALICE})
    expired = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    assert refresh(google, tokens["refresh_token"]).json() == expired
    assert google.get("/calendar/v3/calendars/primary", tokens["access_token"]).status_code == 401
    other = connect(google)
    assert google.send("POST", "/revoke", data={"token": other["refresh_token"]}).status_code == 200
    assert refresh(google, other["refresh_token"]).json() == expired
    assert google.send("POST", "/revoke", data={"token": "unknown"}).status_code == 400
    assert google.get("/revoke", params={"token": "x"}).status_code == 404
    assert refresh(google, "1//garbage").json()["error_description"] == "Bad Request"


def test_testing_mode_tokens_die_after_seven_days(google: Provider) -> None:
    google.control(
        "seed",
        {
            "clients": [
                {"client_id": "testing", "client_secret": "t", "redirect_uris": [REDIRECT_URI], "testing_mode": True}
            ]
        },
    )
    google.settings(auto_approve=True)
    response = google.get(
        "/o/oauth2/v2/auth",
        params={"client_id": "testing", "redirect_uri": REDIRECT_URI, "response_type": "code"}
        | {"scope": SCOPES, "access_type": "offline"},
    )
    code = query_of(response.headers["Location"])["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    tokens = google.send("POST", "/token", data=data | {"client_id": "testing", "client_secret": "t"}).json()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    form |= {"client_id": "testing", "client_secret": "t"}
    google.advance(6 * 86400)
    assert google.send("POST", "/token", data=form).status_code == 200
    google.advance(86400)
    assert google.send("POST", "/token", data=form).json()["error"] == "invalid_grant"


def test_hundred_and_first_token_evicts_the_oldest(google: Provider) -> None:
    tokens = [connect(google)["refresh_token"] for _ in range(101)]
    assert refresh(google, tokens[0]).json()["error_description"] == "Token has been expired or revoked."
    assert refresh(google, tokens[1]).status_code == 200
    assert refresh(google, tokens[100]).status_code == 200


# -- calendar API -------------------------------------------------------------------------------


def test_primary_calendar_list_and_auth_errors(google: Provider) -> None:
    tokens = connect(google)
    primary = google.get("/calendar/v3/calendars/primary", tokens["access_token"]).json()
    assert primary["id"] == ALICE and primary["kind"] == "calendar#calendar"
    google.control("seed", {"calendars": [{"id": "team@group.calendar.google.com", "user": ALICE}]})
    listing = google.get("/calendar/v3/users/me/calendarList", tokens["access_token"]).json()
    assert [c["id"] for c in listing["items"]] == [ALICE, "team@group.calendar.google.com"]
    assert listing["items"][0]["primary"] is True and "primary" not in listing["items"][1]
    missing = google.get("/calendar/v3/calendars/primary")
    assert missing.status_code == 401
    google.advance(3600)
    expired = google.get("/calendar/v3/calendars/primary", tokens["access_token"])
    assert expired.status_code == 401
    assert expired.json()["error"]["errors"][0]["reason"] == "authError"


def list_events(google: Provider, token: str, **params: Any) -> Any:
    return google.get("/calendar/v3/calendars/primary/events", token, params=params)


def test_time_bounds_are_exclusive_and_need_offsets(google: Provider) -> None:
    seed_events(
        google,
        {"id": "early", "summary": "ends at 10", "start": "2026-03-01T09:00:00Z", "end": "2026-03-01T10:00:00Z"},
        {"id": "inside", "summary": "in", "start": "2026-03-01T10:30:00Z", "end": "2026-03-01T11:00:00Z"},
        {"id": "late", "summary": "starts at 12", "start": "2026-03-01T12:00:00Z", "end": "2026-03-01T13:00:00Z"},
    )
    token = connect(google)["access_token"]
    body = list_events(google, token, timeMin="2026-03-01T10:00:00Z", timeMax="2026-03-01T12:00:00+00:00").json()
    assert [e["id"] for e in body["items"]] == ["inside"]
    assert body["items"][0]["start"]["dateTime"] == "2026-03-01T10:30:00Z"
    naive = list_events(google, token, timeMin="2026-03-01T10:00:00")
    assert naive.status_code == 400
    empty = list_events(google, token, timeMin="2026-03-01T12:00:00Z", timeMax="2026-03-01T12:00:00Z")
    assert empty.status_code == 400
    assert empty.json()["error"]["errors"][0]["reason"] == "timeRangeEmpty"


def test_single_events_show_deleted_and_paging(google: Provider) -> None:
    seed_events(
        google,
        {
            "id": "weekly",
            "summary": "standup",
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"],
            "instances": [
                {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T09:15:00Z"},
                {"start": "2026-03-09T09:00:00Z", "end": "2026-03-09T09:15:00Z"},
            ],
        },
        {"id": "gone", "start": "2026-03-03T09:00:00Z", "end": "2026-03-03T10:00:00Z", "cancelled": True},
    )
    token = connect(google)["access_token"]
    masters = list_events(google, token).json()["items"]
    assert [e["id"] for e in masters] == ["weekly"] and masters[0]["recurrence"]
    singles = list_events(google, token, singleEvents="true", showDeleted="true", maxResults=2).json()
    assert [e["id"] for e in singles["items"]] == ["weekly_20260302T090000Z", "gone"]
    assert singles["items"][0]["recurringEventId"] == "weekly"
    assert singles["items"][1]["status"] == "cancelled"
    assert "nextSyncToken" not in singles and "nextPageToken" in singles
    last = list_events(
        google, token, singleEvents="true", showDeleted="true", maxResults=2, pageToken=singles["nextPageToken"]
    ).json()
    assert [e["id"] for e in last["items"]] == ["weekly_20260309T090000Z"]
    assert "nextSyncToken" in last and "nextPageToken" not in last


def full_sync(google: Provider, token: str, **params: Any) -> tuple[list[list[str]], str]:
    pages, page_token = [], None
    while True:
        query = dict(params)
        if page_token:
            query["pageToken"] = page_token
        body = list_events(google, token, **query).json()
        pages.append([e["id"] for e in body["items"]])
        if "nextSyncToken" in body:
            return pages, body["nextSyncToken"]
        page_token = body["nextPageToken"]


def test_empty_pages_and_incremental_sync(google: Provider, receiver: Receiver) -> None:
    seed_events(
        google,
        {"id": "a", "start": "2026-03-01T09:00:00Z", "end": "2026-03-01T10:00:00Z"},
        {"id": "b", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"},
    )
    token = connect(google)["access_token"]
    google.settings(empty_pages=True)
    pages, sync_token = full_sync(google, token, singleEvents="true")
    assert pages == [[], ["a", "b"], []]
    google.settings(empty_pages=False)
    google.control("change-event", {"id": "a", "summary": "moved", "start": "2026-04-01T09:00:00Z"})
    google.control("cancel-event", {"id": "b"})
    changes = list_events(google, token, singleEvents="true", syncToken=sync_token).json()
    assert [(e["id"], e["status"]) for e in changes["items"]] == [("a", "confirmed"), ("b", "cancelled")]
    assert changes["items"][0]["summary"] == "moved"
    again = list_events(google, token, singleEvents="true", syncToken=changes["nextSyncToken"]).json()
    assert again["items"] == []
    forbidden = list_events(google, token, syncToken=sync_token, timeMin="2026-01-01T00:00:00Z")
    assert forbidden.status_code == 400
    assert list_events(google, token, syncToken=sync_token, showDeleted="false").status_code == 400


def test_sync_token_gone_after_horizon_or_on_demand(google: Provider) -> None:
    token = connect(google)["access_token"]
    _, sync_token = full_sync(google, token)
    google.control("expire-sync-tokens")
    gone = list_events(google, token, syncToken=sync_token)
    assert gone.status_code == 410
    assert gone.json()["error"]["errors"][0]["reason"] == "fullSyncRequired"
    _, sync_token = full_sync(google, token)
    google.settings(sync_token_horizon_seconds=3000, gone_with_reason=False)
    assert list_events(google, token, syncToken=sync_token).status_code == 200
    google.advance(3001)
    token = refresh_access(google)
    bare = list_events(google, token, syncToken=sync_token)
    assert bare.status_code == 410 and "errors" not in bare.json()["error"]


def refresh_access(google: Provider) -> str:
    return str(connect(google)["access_token"])


# -- push ---------------------------------------------------------------------------------------


def test_watch_notifications_and_stop(google: Provider, receiver: Receiver) -> None:
    seed_events(google, {"id": "a", "start": "2026-03-01T09:00:00Z", "end": "2026-03-01T10:00:00Z"})
    token = connect(google)["access_token"]
    watch = {"id": "chan-1", "type": "web_hook", "address": receiver.url + "/webhooks/google", "token": "tok"}
    channel = google.send("POST", "/calendar/v3/calendars/primary/events/watch", token, json=watch).json()
    assert channel["id"] == "chan-1" and channel["resourceId"]
    assert isinstance(channel["expiration"], str) and channel["expiration"].isdigit()
    duplicate = google.send("POST", "/calendar/v3/calendars/primary/events/watch", token, json=watch)
    assert duplicate.status_code == 400
    google.control("change-event", {"id": "a", "summary": "changed"})
    first, second = receiver.wait_for(2)
    assert first["headers"]["X-Goog-Resource-State"] == "sync"
    assert first["headers"]["X-Goog-Message-Number"] == "1"
    assert second["headers"]["X-Goog-Resource-State"] == "exists"
    assert second["headers"]["X-Goog-Message-Number"] == "2"
    assert second["headers"]["X-Goog-Channel-Id"] == "chan-1"
    assert second["headers"]["X-Goog-Channel-Token"] == "tok"
    assert second["headers"]["X-Goog-Resource-Id"] == channel["resourceId"]
    assert second["body"] == ""
    wrong = google.control("notify", {"channel_id": "chan-1", "token": "forged"})
    assert wrong["deliveries"][0]["status"] == 202
    assert receiver.wait_for(3)[2]["headers"]["X-Goog-Channel-Token"] == "forged"
    stop = {"id": "chan-1", "resourceId": channel["resourceId"]}
    assert google.send("POST", "/calendar/v3/channels/stop", token, json=stop).status_code == 204
    assert google.send("POST", "/calendar/v3/channels/stop", token, json=stop).status_code == 404
    assert google.control("change-event", {"id": "a", "summary": "again"})["deliveries"] == []


def test_channels_expire_on_the_fake_clock(google: Provider, receiver: Receiver) -> None:
    seed_events(google, {"id": "a", "start": "2026-03-01T09:00:00Z", "end": "2026-03-01T10:00:00Z"})
    google.settings(send_sync_on_watch=False)
    token = connect(google)["access_token"]
    watch = {"id": "c2", "type": "web_hook", "address": receiver.url, "params": {"ttl": "3600"}}
    channel = google.send("POST", "/calendar/v3/calendars/primary/events/watch", token, json=watch).json()
    now = datetime.fromisoformat(google.get("/__emulator__/clock").json()["now"].replace("Z", "+00:00"))
    assert abs(int(channel["expiration"]) - (now.timestamp() + 3600) * 1000) < 5000
    assert len(google.control("change-event", {"id": "a", "summary": "x"})["deliveries"]) == 1
    google.advance(3601)
    assert google.control("change-event", {"id": "a", "summary": "y"})["deliveries"] == []


# -- control API --------------------------------------------------------------------------------


def test_failure_injection_and_request_log(google: Provider) -> None:
    tokens = connect(google)
    google.control("fail", {"route": "token", "preset": "invalid_rapt", "times": 1})
    failed = refresh(google, tokens["refresh_token"])
    assert failed.status_code == 400 and failed.json()["error_subtype"] == "invalid_rapt"
    assert refresh(google, tokens["refresh_token"]).status_code == 200
    google.control(
        "fail",
        {"route": "events_list", "status": 429, "body": {"error": {"code": 429}}, "headers": {"Retry-After": "2"}},
    )
    throttled = list_events(google, tokens["access_token"])
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    google.control("fail", {"route": "events_list", "preset": "rate_limit_permission_denied", "times": 2})
    quota = list_events(google, tokens["access_token"]).json()["error"]
    assert quota["status"] == "PERMISSION_DENIED" and quota["errors"][0]["reason"] == "rateLimitExceeded"
    assert list_events(google, tokens["access_token"]).status_code == 403
    assert list_events(google, tokens["access_token"]).status_code == 200
    google.control("fail", {"route": "calendars_get", "latency_ms": 150})
    slow = google.get("/calendar/v3/calendars/primary", tokens["access_token"])
    assert slow.status_code == 200 and slow.elapsed.total_seconds() >= 0.15
    log = google.calls("events_list")
    assert [c["status"] for c in log] == [429, 403, 403, 200]
    assert [c["injected"] for c in log] == [True, True, True, False]
    assert log[0]["bearer_fp"] == fp(tokens["access_token"])
    google.control("fail", {"route": "token", "preset": "nope"}, expect=400)
    google.control("settings", {"no_such_switch": True}, expect=400)


def test_reset_clears_everything(google: Provider) -> None:
    connect(google)
    google.control("reset")
    state = google.get("/__emulator__/state").json()
    assert state["users"] == [] and state["live_refresh_tokens"] == 0
    assert google.calls() == []


def test_the_request_log_stays_bounded_and_its_ids_keep_counting(google: Provider) -> None:
    """A scale run makes millions of calls: the log keeps the newest, ids never repeat."""
    google.settings(calls_log_limit=10)
    for _ in range(25):
        google.get("/.well-known/openid-configuration")
    calls = google.calls()
    ids = [c["id"] for c in calls]
    assert len(calls) <= 10 and ids == sorted(ids) and ids[-1] == 25


@pytest.mark.parametrize(
    ("address", "accepted"),
    [
        ("http://calendar.example.com/push/google", False),
        ("ftp://calendar.example.com/push/google", False),
        ("https://calendar.example.com/push/google", True),
    ],
)
def test_watch_refuses_a_plain_http_address_unless_loopback(google: Provider, address: str, accepted: bool) -> None:
    """As Google does (``push.webhookUrlNotHttps``); the loopback receiver above is allowed for tests."""
    token = connect(google)["access_token"]
    watch = {"id": f"chan-{accepted}-{len(address)}", "type": "web_hook", "address": address}
    response = google.send("POST", "/calendar/v3/calendars/primary/events/watch", token, json=watch)
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 400
        assert response.json()["error"]["errors"][0]["reason"] == "push.webhookUrlNotHttps"


def test_a_grant_keeps_its_newest_refresh_tokens_up_to_the_cap(google: Provider) -> None:
    """Google keeps a limited number of live refresh tokens per user and client; the oldest goes."""
    google.settings(max_refresh_tokens_per_client=2)
    tokens = [connect(google, access_type="offline", prompt="consent")["refresh_token"] for _ in range(3)]
    assert refresh(google, tokens[0]).status_code == 400  # evicted by the third
    assert [refresh(google, token).status_code for token in tokens[1:]] == [200, 200]
