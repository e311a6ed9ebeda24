"""Security headers on every non-API response (one ``after_request`` hook)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, g, request

# Set by a page that shows a project's logo (``webapp.onboarding.flow``): that one https origin is
# added to ``img-src``; every other directive, and every other page, keeps ``default-src 'self'``.
LOGO_ORIGIN_KEY = "csp_logo_origin"


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def content_security_policy(logo_origin: str | None = None) -> str:
    """Same-origin everything; no framing; no <base>. Chromium applies ``form-action`` to the redirects
    that follow a form submission, so the providers' authorize origins are listed there too.

    *logo_origin* (an https origin whose host and port were checked by ``webapp.projects.branding``)
    may also serve images: the project's logo, nothing else."""
    config = current_app.config
    targets: list[str] = []
    for url in (config.get("GOOGLE_AUTHORIZE_URL"), config.get("MICROSOFT_LOGIN_URL")):
        origin = _origin(str(url or ""))
        if origin and origin not in targets:
            targets.append(origin)
    form_action = " ".join(["'self'", *targets])
    policy = f"default-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    if logo_origin and _origin(logo_origin) == logo_origin and logo_origin.startswith("https://"):
        policy += f"; img-src 'self' {logo_origin}"
    return policy


def add_security_headers(response: Response) -> Response:
    if request.path.startswith("/api/"):
        return response
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(g.get(LOGO_ORIGIN_KEY)))
    headers.setdefault("X-Frame-Options", "DENY")
    # Connect URLs carry a bearer token: never leak it in a Referer header.
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
