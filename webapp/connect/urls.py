"""Absolute URLs of the onboarding pages, from ``PUBLIC_BASE_URL`` when it is set."""

from __future__ import annotations

from flask import current_app, has_request_context, request

CONNECT_PREFIX = "/connect"
# Used for the URL the admin registers when neither PUBLIC_BASE_URL nor a request says otherwise.
FALLBACK_BASE_URL = "http://127.0.0.1:8000"


def base_url() -> str:
    """The canonical base (``scheme://host[:port]``): the setting, else the current request's host."""
    configured = str(current_app.config.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    if configured:
        return configured
    if has_request_context():
        return request.host_url.rstrip("/")
    return FALLBACK_BASE_URL


def connect_url(token: str) -> str:
    return f"{base_url()}{CONNECT_PREFIX}/{token}"


def callback_url(platform: str) -> str:
    """The one redirect URI per platform that the OAuth app must have registered."""
    return f"{base_url()}{CONNECT_PREFIX}/callback/{platform}"


def on_canonical_host() -> bool:
    """False when PUBLIC_BASE_URL names another origin than the request (the state cookie would be lost)."""
    configured = str(current_app.config.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    return not configured or request.host_url.rstrip("/").lower() == configured.lower()
