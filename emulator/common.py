"""Plumbing shared by both emulated providers: the app skeleton, the request log, failure
injection, outbound notifications, ID-token signing and the generic part of the control API."""

from __future__ import annotations

import base64
import ipaddress
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from joserfc import jwt

from emulator.state import SECRET_FIELDS, Event, Failure, ProviderState, fingerprint, isoformat_z

TEMPLATES = Path(__file__).resolve().parent / "templates"
CONTROL_PREFIX = "/__emulator__"

# (status, body) for a named failure; provider modules supply their own table.
PresetResolver = Callable[[dict[str, Any]], tuple[int, Any] | None]
# Fires push notifications for changed events; returns the delivery records.
ChangeNotifier = Callable[[ProviderState, list[Event]], list[dict[str, Any]]]


def https_or_loopback(url: str) -> bool:
    """Whether a provider accepts *url* as a notification address: HTTPS only, as Google and
    Microsoft require; loopback (plain http too) stays allowed so that tests can receive."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_app(import_name: str, provider: str, state: ProviderState | None) -> Flask:
    app = Flask(import_name, template_folder=str(TEMPLATES))
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["emulator_state"] = state or ProviderState(provider)
    app.config["EMULATOR_PROVIDER"] = provider
    app.before_request(_log_and_inject)
    app.after_request(_finish_log)
    return app


def get_state() -> ProviderState:
    state: ProviderState = current_app.extensions["emulator_state"]
    return state


def base_url() -> str:
    return request.host_url.rstrip("/")


def _redact(values: dict[str, str]) -> dict[str, str]:
    return {key: ("<redacted>" if key in SECRET_FIELDS else value) for key, value in values.items()}


def _log_and_inject() -> Response | None:
    if request.path.startswith(CONTROL_PREFIX + "/") or request.endpoint in (None, "static"):
        return None
    state = get_state()
    form = request.form.to_dict() if request.mimetype == "application/x-www-form-urlencoded" else {}
    body = request.get_json(silent=True) if request.is_json else None
    auth = request.headers.get("Authorization", "")
    entry: dict[str, Any] = {
        "at": isoformat_z(state.now()),
        "method": request.method,
        "path": request.path,
        "route": request.endpoint,
        "query": _redact(request.args.to_dict()),
        "form": _redact(form),
        "form_keys": sorted(form),
        "json": body if isinstance(body, dict) else None,
        "auth": auth.split(" ", 1)[0].lower() if auth else None,
        "bearer_fp": fingerprint(auth[7:].strip()) if auth.lower().startswith("bearer ") else None,
        "refresh_token_fp": fingerprint(form["refresh_token"]) if form.get("refresh_token") else None,
        "grant_type": form.get("grant_type"),
        "client_id": form.get("client_id") or _basic_client_id(auth),
        "prefer": request.headers.get("Prefer"),
        "status": None,
        "injected": False,
    }
    with state.lock:
        state.calls_total += 1
        entry["id"] = state.calls_total
        state.calls.append(entry)
        if len(state.calls) > state.settings.calls_log_limit:  # a scale test makes millions of calls
            del state.calls[: len(state.calls) // 2]
    g.emulator_call = entry
    failure = state.take_failure(str(request.endpoint))
    if failure is None:
        return None
    if failure.latency_ms:
        time.sleep(failure.latency_ms / 1000)
    if failure.status is None:
        return None
    entry["injected"] = True
    return failure_response(failure)


def _basic_client_id(auth: str) -> str | None:
    if not auth.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip()).decode()
    except ValueError:
        return None
    return unquote(decoded.partition(":")[0])


def _finish_log(response: Response) -> Response:
    entry = g.get("emulator_call")
    if entry is not None:
        entry["status"] = response.status_code
    return response


def failure_response(failure: Failure) -> Response:
    status = failure.status or 500
    if isinstance(failure.body, dict | list):
        response = jsonify(failure.body)
    else:
        response = Response("" if failure.body is None else str(failure.body), mimetype="text/plain")
    response.status_code = status
    for name, value in failure.headers.items():
        response.headers[name] = value
    return response


def sign_jwt(state: ProviderState, claims: dict[str, Any]) -> str:
    header = {"alg": "RS256", "kid": state.signing_key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, state.signing_key)


def jwks(state: ProviderState) -> dict[str, Any]:
    return {"keys": [state.signing_key.as_dict(private=False)]}


def deliver(
    state: ProviderState,
    kind: str,
    url: str,
    *,
    headers: dict[str, str],
    body: Any = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """POST a notification and record the outcome (never raises)."""
    record: dict[str, Any] = {"at": isoformat_z(state.now()), "kind": kind, "url": url, "headers": headers}
    if body is not None:
        record["body"] = body
    try:
        if body is None:
            response = requests.post(url, data=b"", headers=headers, timeout=timeout)
        else:
            response = requests.post(url, json=body, headers=headers, timeout=timeout)
        with response:
            record["status"] = response.status_code
    except requests.RequestException as exc:
        record["status"] = None
        record["error"] = type(exc).__name__
    with state.lock:
        state.deliveries.append(record)
    return record


def json_error(status: int, payload: dict[str, Any]) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


def control_blueprint(presets: PresetResolver, notifier: ChangeNotifier) -> Blueprint:
    """``/__emulator__/`` routes common to both providers."""
    bp = Blueprint("control", __name__, url_prefix=CONTROL_PREFIX)

    def bad(message: str) -> Response:
        return json_error(400, {"error": message})

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @bp.post("/reset")
    def reset() -> Response:
        get_state().reset()
        return jsonify({"ok": True})

    @bp.get("/state")
    def summary() -> Response:
        state = get_state()
        with state.lock:
            return jsonify(
                {
                    "provider": state.provider,
                    "now": isoformat_z(state.now()),
                    "clock_offset_seconds": state.clock_offset,
                    "users": sorted(state.users),
                    "clients": sorted(state.clients),
                    "events": len(state.events),
                    "change_log_position": state.seq,
                    "live_refresh_tokens": sum(1 for t in state.refresh_tokens.values() if not t.revoked),
                    "channels": [
                        {"id": c.id, "resource_id": c.resource_id, "stopped": c.stopped}
                        for c in state.channels.values()
                    ],
                    "subscriptions": [
                        {"id": s.id, "expirationDateTime": isoformat_z(s.expiration), "deleted": s.deleted}
                        for s in state.subscriptions.values()
                    ],
                }
            )

    @bp.post("/seed")
    def seed() -> Response:
        data = body()
        state = get_state()
        try:
            with state.lock:
                users = [state.add_user(u).email for u in data.get("users", [])]
                clients = [state.add_client(c).client_id for c in data.get("clients", [])]
                calendars = [state.add_calendar(c).id for c in data.get("calendars", [])]
                events = [e.id for raw in data.get("events", []) for e in state.add_event(raw)]
        except (KeyError, ValueError, TypeError) as exc:
            return bad(f"bad seed: {exc}")
        return jsonify({"users": users, "clients": clients, "calendars": calendars, "events": events})

    def _changed(events: list[Event]) -> Response:
        state = get_state()
        deliveries = notifier(state, events) if state.settings.notify_on_change else []
        return jsonify({"changed": [e.id for e in events], "change_log_position": state.seq, "deliveries": deliveries})

    @bp.post("/change-event")
    def change_event() -> Response:
        data = body()
        event_id = str(data.get("id", ""))
        changes = {k: v for k, v in data.items() if k != "id"}
        try:
            events = get_state().change_event(event_id, changes)
        except KeyError:
            return json_error(404, {"error": f"unknown event {event_id!r}"})
        except (ValueError, TypeError) as exc:
            return bad(str(exc))
        return _changed(events)

    @bp.post("/cancel-event")
    def cancel_event() -> Response:
        event_id = str(body().get("id", ""))
        try:
            events = get_state().cancel_event(event_id)
        except KeyError:
            return json_error(404, {"error": f"unknown event {event_id!r}"})
        return _changed(events)

    @bp.post("/add-event")
    def add_event() -> Response:
        try:
            events = get_state().add_event(body())
        except (KeyError, ValueError, TypeError) as exc:
            return bad(str(exc))
        return _changed(events)

    @bp.post("/revoke-user-grants")
    def revoke_user_grants() -> Response:
        data = body()
        email = str(data.get("email", ""))
        state = get_state()
        if email not in state.users:
            return json_error(404, {"error": f"unknown user {email!r}"})
        client_id = data.get("client_id")
        count = state.revoke_user_grants(email, str(client_id) if client_id else None)
        return jsonify({"revoked_refresh_tokens": count})

    @bp.post("/fail")
    def fail() -> Response:
        data = body()
        route = data.get("route")
        if not isinstance(route, str) or not route:
            return bad("'route' is required")
        status = data.get("status")
        payload = data.get("body")
        resolved = presets(data)
        if resolved is not None:
            preset_status, preset_body = resolved
            status = status or preset_status
            payload = preset_body if payload is None else payload
        elif data.get("preset") or data.get("aadsts"):
            return bad("unknown preset")
        if status is None and not data.get("latency_ms"):
            return bad("give 'status', a preset, or 'latency_ms'")
        failure = Failure(
            route=route,
            times=int(data.get("times", 1)),
            status=int(status) if status is not None else None,
            body=payload,
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            latency_ms=int(data.get("latency_ms", 0)),
        )
        state = get_state()
        with state.lock:
            state.failures.append(failure)
        return jsonify({"route": failure.route, "times": failure.times, "status": failure.status, "body": payload})

    @bp.post("/fail/clear")
    def fail_clear() -> Response:
        state = get_state()
        with state.lock:
            state.failures.clear()
        return jsonify({"ok": True})

    @bp.post("/clock/advance")
    def advance() -> Response:
        seconds = body().get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            return bad("'seconds' must be a non-negative number")
        state = get_state()
        now = state.advance(float(seconds))
        return jsonify({"now": isoformat_z(now), "clock_offset_seconds": state.clock_offset})

    @bp.get("/clock")
    def clock() -> Response:
        state = get_state()
        return jsonify({"now": isoformat_z(state.now()), "clock_offset_seconds": state.clock_offset})

    @bp.get("/calls")
    def calls() -> Response:
        state = get_state()
        route = request.args.get("route")
        since = request.args.get("since", type=int) or 0
        with state.lock:
            items = [c for c in state.calls if c["id"] > since and (route is None or c["route"] == route)]
            return jsonify({"calls": [dict(c) for c in items]})

    @bp.post("/calls/clear")
    def calls_clear() -> Response:
        state = get_state()
        with state.lock:
            state.calls.clear()
        return jsonify({"ok": True})

    @bp.get("/deliveries")
    def deliveries() -> Response:
        state = get_state()
        with state.lock:
            return jsonify({"deliveries": list(state.deliveries)})

    @bp.get("/settings")
    def get_settings() -> Response:
        return jsonify(get_state().settings.as_dict())

    @bp.post("/settings")
    def set_settings() -> Response:
        state = get_state()
        with state.lock:
            unknown = state.settings.update(body())
        if unknown:
            return bad("unknown settings: " + ", ".join(sorted(unknown)))
        return jsonify(state.settings.as_dict())

    @bp.post("/expire-sync-tokens")
    def expire_sync_tokens() -> Response:
        state = get_state()
        with state.lock:
            state.sync_epoch += 1
        return jsonify({"sync_epoch": state.sync_epoch})

    return bp
