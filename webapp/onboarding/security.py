"""Security headers on every non-API response (one ``after_request`` hook)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, request


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def content_security_policy() -> str:
    """Same-origin everything; no framing; no <base>. Chromium applies ``form-action`` to the redirects
    that follow a form submission, so the providers' authorize origins are listed there too."""
    config = current_app.config
    targets: list[str] = []
    for url in (config.get("GOOGLE_AUTHORIZE_URL"), config.get("MICROSOFT_LOGIN_URL")):
        origin = _origin(str(url or ""))
        if origin and origin not in targets:
            targets.append(origin)
    form_action = " ".join(["'self'", *targets])
    return f"default-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"


def add_security_headers(response: Response) -> Response:
    if request.path.startswith("/api/"):
        return response
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Frame-Options", "DENY")
    # Connect URLs carry a bearer token: never leak it in a Referer header.
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
