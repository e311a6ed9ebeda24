"""Emulated Microsoft: identity platform v2.0, Graph reads, delta, subscriptions, control API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import KeySet

from emulator import cli
from tests.emulation import (
    ALICE,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    WORK_TID,
    Provider,
    Receiver,
    fp,
    pkce_pair,
    query_of,
)

SCOPES = "openid email offline_access User.Read Calendars.Read"
AUTH = "/common/oauth2/v2.0/authorize"
TOKEN = "/common/oauth2/v2.0/token"


def authorize(ms: Provider, tenant: str = "common", **params: str) -> Any:
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPES,
        "state": "st",
        "login_hint": ALICE,
        **params,
    }
    return ms.get(f"/{tenant}/oauth2/v2.0/authorize", params=query)


def get_code(ms: Provider, **params: str) -> str:
    ms.settings(auto_approve=True)
    response = authorize(ms, **params)
    assert response.status_code == 302, response.text
    return query_of(response.headers["Location"])["code"]


def redeem(ms: Provider, code: str, **form: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    data |= {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form}
    return ms.send("POST", TOKEN, data=data)


def connect(ms: Provider, **params: str) -> dict[str, Any]:
    response = redeem(ms, get_code(ms, **params))
    assert response.status_code == 200, response.text
    return dict(response.json())


def refresh(ms: Provider, token: str) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": CLIENT_ID}
    return ms.send("POST", TOKEN, data=data | {"client_secret": CLIENT_SECRET})


def assert_aadsts(response: Any, code: int, error: str = "invalid_grant") -> dict[str, Any]:
    body = dict(response.json())
    assert response.status_code in (400, 401)
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")
    for name in ("timestamp", "trace_id", "correlation_id", "error_uri"):
        assert body[name]
    return body


# -- identity -----------------------------------------------------------------------------------


def test_discovery_issuers_and_id_token(microsoft: Provider) -> None:
    common = microsoft.get("/common/v2.0/.well-known/openid-configuration").json()
    assert common["issuer"] == microsoft.base + "/{tenantid}/v2.0"
    concrete = microsoft.get(f"/{WORK_TID}/v2.0/.well-known/openid-configuration").json()
    assert concrete["issuer"] == f"{microsoft.base}/{WORK_TID}/v2.0"
    keys = KeySet.import_key_set(microsoft.get(common["jwks_uri"]).json())
    tokens = connect(microsoft, nonce="nn")
    claims = jwt.decode(tokens["id_token"], keys).claims
    assert claims["iss"] == f"{microsoft.base}/{WORK_TID}/v2.0" and claims["tid"] == WORK_TID
    assert claims["nonce"] == "nn" and claims["aud"] == CLIENT_ID
    assert "https://graph.microsoft.com/Calendars.Read" in tokens["scope"].split()


def test_consent_page_tenants_deny_and_form_post(microsoft: Provider) -> None:
    page = authorize(microsoft)
    assert page.status_code == 200 and page.text.count('name="grant_scope"') == 5
    assert "carol@outlook.com" in page.text
    consumers = authorize(microsoft, tenant="consumers")
    assert 'name="account" value="carol@outlook.com"' in consumers.text
    assert f'name="account" value="{ALICE}"' not in consumers.text
    form = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": SCOPES}
    denied = microsoft.send("POST", AUTH, data=form | {"state": "st", "account": ALICE, "decision": "deny"})
    query = query_of(denied.headers["Location"])
    assert query["error"] == "access_denied" and query["state"] == "st"
    assert authorize(microsoft, redirect_uri="http://elsewhere/cb").status_code == 400
    microsoft.settings(auto_approve=True)
    posted = authorize(microsoft, response_mode="form_post")
    assert posted.status_code == 200 and f'action="{REDIRECT_URI}"' in posted.text and 'name="code"' in posted.text


def test_code_reuse_pkce_and_client_errors(microsoft: Provider) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(microsoft, code_challenge=challenge, code_challenge_method="S256")
    assert_aadsts(redeem(microsoft, code, code_verifier="wrong"), 50148)
    assert redeem(microsoft, code, code_verifier=verifier).status_code == 200
    assert_aadsts(redeem(microsoft, code, code_verifier=verifier), 54005)
    other = get_code(microsoft)
    bad = assert_aadsts(redeem(microsoft, other, client_secret="nope"), 7000215, "invalid_client")
    assert "suberror" not in bad
    assert_aadsts(redeem(microsoft, other, client_id="unknown"), 700016, "unauthorized_client")


def test_refresh_token_only_with_offline_access(microsoft: Provider) -> None:
    without = connect(microsoft, scope="openid User.Read Calendars.Read")
    assert "refresh_token" not in without
    assert "refresh_token" in connect(microsoft)


def test_rotation_grace_and_strict_mode(microsoft: Provider) -> None:
    first = connect(microsoft)["refresh_token"]
    second = refresh(microsoft, first).json()["refresh_token"]
    assert second != first
    call = microsoft.calls("token")[-1]
    assert call["refresh_token_fp"] == fp(first) and call["form"]["refresh_token"] == "<redacted>"
    assert refresh(microsoft, first).status_code == 200  # old token still works without strict mode
    microsoft.settings(rotation_grace_seconds=60)
    microsoft.advance(61)
    assert_aadsts(refresh(microsoft, first), 700082)
    microsoft.settings(strict_rotation=True, rotation_grace_seconds=None)
    third = refresh(microsoft, second).json()["refresh_token"]
    assert_aadsts(refresh(microsoft, second), 700082)
    assert refresh(microsoft, third).status_code == 200


def test_ninety_day_inactivity_and_daily_rotation(microsoft: Provider) -> None:
    stale = connect(microsoft)["refresh_token"]
    current = connect(microsoft)["refresh_token"]
    microsoft.settings(strict_rotation=True)
    for _ in range(100):
        microsoft.advance(86400)
        response = refresh(microsoft, current)
        assert response.status_code == 200, response.text
        current = response.json()["refresh_token"]
    assert_aadsts(refresh(microsoft, stale), 700082)


def test_revoked_grants_give_50173(microsoft: Provider) -> None:
    tokens = connect(microsoft)
    microsoft.control("revoke-user-grants", {"email": ALICE})
    assert_aadsts(refresh(microsoft, tokens["refresh_token"]), 50173)
    assert microsoft.get("/v1.0/me", tokens["access_token"]).status_code == 401


# -- Graph --------------------------------------------------------------------------------------


def seed(ms: Provider, *events: dict[str, Any]) -> None:
    ms.control("seed", {"events": [{"user": ALICE, **e} for e in events]})


def test_me_calendar_and_scope_errors(microsoft: Provider) -> None:
    token = connect(microsoft)["access_token"]
    me = microsoft.get("/v1.0/me", token).json()
    assert me["mail"] == ALICE and me["userPrincipalName"] == ALICE and me["id"]
    microsoft.settings(mail_null=True)
    assert microsoft.get("/v1.0/me", token).json()["mail"] is None
    calendar = microsoft.get("/v1.0/me/calendar", token).json()
    assert calendar["isDefaultCalendar"] is True
    user_only = connect(microsoft, scope="openid User.Read")["access_token"]
    denied = microsoft.get("/v1.0/me/calendar", user_only)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "ErrorAccessDenied"
    assert "innerError" in denied.json()["error"]
    missing = microsoft.get("/v1.0/me")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "InvalidAuthenticationToken"


def window(days: int = 10) -> dict[str, str]:
    return {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": f"2026-03-{1 + days:02d}T00:00:00Z"}


def test_calendar_view_window_and_next_link(microsoft: Provider) -> None:
    seed(
        microsoft,
        {"id": "e1", "summary": "one", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"},
        {"id": "e2", "summary": "two", "start": "2026-03-03T09:00:00Z", "end": "2026-03-03T10:00:00Z"},
        {"id": "out", "start": "2026-05-03T09:00:00Z", "end": "2026-05-03T10:00:00Z"},
        {
            "id": "series",
            "summary": "weekly",
            "instances": [{"start": "2026-03-04T09:00:00Z", "end": "2026-03-04T09:30:00Z"}],
        },
    )
    token = connect(microsoft)["access_token"]
    assert microsoft.get("/v1.0/me/calendarView", token).status_code == 400
    first = microsoft.get("/v1.0/me/calendarView", token, params=window() | {"$top": "2"}).json()
    assert [e["id"] for e in first["value"]] == ["e1", "e2"]
    assert first["value"][0]["start"] == {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"}
    second = microsoft.get(first["@odata.nextLink"], token).json()
    assert [e["id"] for e in second["value"]] == ["series_20260304T090000Z"]
    assert second["value"][0]["type"] == "occurrence" and second["value"][0]["seriesMasterId"] == "series"
    assert "@odata.nextLink" not in second
    berlin = microsoft.get(
        "/v1.0/me/calendarView", token, params=window(), headers={"Prefer": 'outlook.timezone="Europe/Berlin"'}
    ).json()
    assert berlin["value"][0]["start"]["dateTime"].startswith("2026-03-02T10:00:00")


def delta_round(ms: Provider, token: str, url: str, page_size: int = 2) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    headers = {"Prefer": f"odata.maxpagesize={page_size}"}
    while True:
        body = ms.get(url, token, headers=headers).json()
        items.extend(body["value"])
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]
        assert "$skiptoken=" in url


def test_delta_rounds_removed_items_and_resets(microsoft: Provider) -> None:
    seed(
        microsoft,
        *[{"id": f"e{i}", "start": f"2026-03-0{i}T09:00:00Z", "end": f"2026-03-0{i}T10:00:00Z"} for i in range(1, 6)],
    )
    token = connect(microsoft)["access_token"]
    start = "/v1.0/me/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-10T00:00:00Z"
    items, delta_link = delta_round(microsoft, token, microsoft.base + start)
    assert [e["id"] for e in items] == ["e1", "e2", "e3", "e4", "e5"]
    assert "$deltatoken=" in delta_link and "startDateTime" not in delta_link
    microsoft.control("change-event", {"id": "e1", "summary": "renamed"})
    microsoft.control("change-event", {"id": "e2", "start": "2026-06-01T09:00:00Z", "end": "2026-06-01T10:00:00Z"})
    microsoft.control("cancel-event", {"id": "e3"})
    changes, next_link = delta_round(microsoft, token, delta_link)
    assert changes[0]["id"] == "e1" and changes[0]["subject"] == "renamed"
    assert changes[1] == {"@odata.type": "#microsoft.graph.event", "id": "e2", "@removed": {"reason": "deleted"}}
    assert changes[2]["@removed"] == {"reason": "deleted"}
    assert delta_round(microsoft, token, next_link)[0] == []
    assert microsoft.get(start + "&$select=subject", token).status_code == 400
    microsoft.control("expire-sync-tokens")
    gone = microsoft.get(next_link, token)
    assert gone.status_code == 410 and "$deltatoken=" in gone.headers["Location"]
    _, fresh = delta_round(microsoft, token, microsoft.base + start)
    microsoft.settings(sync_reset_style="syncStateNotFound")
    microsoft.control("expire-sync-tokens")
    lost = microsoft.get(fresh, token)
    assert lost.status_code == 400 and lost.json()["error"]["code"] == "syncStateNotFound"


# -- subscriptions ------------------------------------------------------------------------------


def expiry(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def subscribe(ms: Provider, token: str, receiver: Receiver, minutes: int = 4000) -> Any:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": receiver.url + "/webhooks/microsoft",
        "lifecycleNotificationUrl": receiver.url + "/webhooks/microsoft/lifecycle",
        "resource": "me/events",
        "expirationDateTime": expiry(minutes),
        "clientState": "secret-state",
    }
    return ms.send("POST", "/v1.0/subscriptions", token, json=body)


def test_subscription_handshake_limits_renew_delete(microsoft: Provider, receiver: Receiver) -> None:
    token = connect(microsoft)["access_token"]
    receiver.mode = "wrong"
    assert subscribe(microsoft, token, receiver).status_code == 400
    receiver.mode = "html"
    assert subscribe(microsoft, token, receiver).json()["error"]["code"] == "ValidationError"
    receiver.mode = "echo"
    too_long = subscribe(microsoft, token, receiver, minutes=10000)
    assert too_long.status_code == 400 and "4230" in too_long.json()["error"]["message"]
    created = subscribe(microsoft, token, receiver)
    assert created.status_code == 201, created.text
    sub = created.json()
    validations = [r for r in receiver.requests if "validation" in r]
    assert {r["path"] for r in validations[-2:]} == {"/webhooks/microsoft", "/webhooks/microsoft/lifecycle"}
    assert validations[-1]["validation"].startswith("Validation: Testing client application reachability")
    microsoft.settings(subscription_max_minutes=10080)
    renewed = microsoft.send(
        "PATCH", f"/v1.0/subscriptions/{sub['id']}", token, json={"expirationDateTime": expiry(9000)}
    )
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] != sub["expirationDateTime"]
    assert microsoft.send("DELETE", f"/v1.0/subscriptions/{sub['id']}", token).status_code == 204
    assert microsoft.send("DELETE", f"/v1.0/subscriptions/{sub['id']}", token).status_code == 404


def test_change_and_lifecycle_notifications(microsoft: Provider, receiver: Receiver) -> None:
    seed(microsoft, {"id": "e1", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"})
    token = connect(microsoft)["access_token"]
    sub = subscribe(microsoft, token, receiver, minutes=60).json()
    result = microsoft.control("change-event", {"id": "e1", "summary": "new"})
    assert result["deliveries"][0]["status"] == 202
    batch = json.loads(receiver.wait_for(1)[0]["body"])["value"]
    assert batch[0]["subscriptionId"] == sub["id"] and batch[0]["clientState"] == "secret-state"
    assert batch[0]["changeType"] == "updated" and batch[0]["resourceData"]["id"] == "e1"
    microsoft.control("notify", {"subscription_id": sub["id"], "event_ids": ["a", "b"], "client_state": "wrong"})
    wrong = json.loads(receiver.wait_for(2)[1]["body"])["value"]
    assert [i["clientState"] for i in wrong] == ["wrong", "wrong"]
    microsoft.control("notify", {"subscription_id": sub["id"], "lifecycle_event": "reauthorizationRequired"})
    lifecycle = receiver.wait_for(3)[2]
    assert lifecycle["path"] == "/webhooks/microsoft/lifecycle"
    assert json.loads(lifecycle["body"])["value"][0]["lifecycleEvent"] == "reauthorizationRequired"
    microsoft.advance(5400)
    assert microsoft.get(f"/v1.0/subscriptions/{sub['id']}", token).status_code == 401  # access token expired
    fresh = connect(microsoft)["access_token"]
    assert microsoft.get(f"/v1.0/subscriptions/{sub['id']}", fresh).status_code == 404
    assert microsoft.control("change-event", {"id": "e1", "summary": "later"})["deliveries"] == []


# -- control API --------------------------------------------------------------------------------


def test_failure_injection_presets(microsoft: Provider) -> None:
    tokens = connect(microsoft)
    microsoft.control("fail", {"route": "token", "aadsts": 65001})
    body = assert_aadsts(refresh(microsoft, tokens["refresh_token"]), 65001)
    assert body["suberror"] == "consent_required"
    microsoft.control("fail", {"route": "token", "aadsts": 7000222})
    assert refresh(microsoft, tokens["refresh_token"]).status_code == 401
    microsoft.control("fail", {"route": "me", "preset": "throttled", "headers": {"Retry-After": "0"}})
    throttled = microsoft.get("/v1.0/me", tokens["access_token"])
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "0"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    microsoft.control("fail", {"route": "*", "preset": "service_unavailable", "times": 1})
    assert microsoft.get("/v1.0/me/calendar", tokens["access_token"]).status_code == 503
    assert microsoft.get("/v1.0/me/calendar", tokens["access_token"]).status_code == 200
    statuses = [(c["route"], c["status"], c["injected"]) for c in microsoft.calls()[-3:]]
    assert statuses == [("me", 429, True), ("calendar", 503, True), ("calendar", 200, False)]


def test_cli_prints_settings(monkeypatch: Any) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "wait_forever", interrupt)
    result = CliRunner().invoke(cli.emulator_cli, ["run", "--google-port", "0", "--microsoft-port", "0"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line and not line.startswith("#"))
    assert lines["GOOGLE_TOKEN_URL"].startswith("http://127.0.0.2:")
    assert lines["MICROSOFT_GRAPH_URL"].startswith("http://127.0.0.3:") and lines["MICROSOFT_TENANT"] == "common"
    parse_qs(urlparse(lines["GOOGLE_AUTHORIZE_URL"]).query)


def test_subscription_refuses_a_plain_http_notification_url(microsoft: Provider, receiver: Receiver) -> None:
    token = connect(microsoft)["access_token"]
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": "http://calendar.example.com/push/microsoft",
        "resource": "me/events",
        "expirationDateTime": expiry(60),
    }
    refused = microsoft.send("POST", "/v1.0/subscriptions", token, json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ValidationError" and "HTTPS" in refused.json()["error"]["message"]
    lifecycle = {**body, "notificationUrl": receiver.url + "/x", "lifecycleNotificationUrl": "http://example.com/l"}
    assert microsoft.send("POST", "/v1.0/subscriptions", token, json=lifecycle).status_code == 400
    assert not [r for r in receiver.requests if "validation" in r]  # refused before any handshake
