"""OAuth pieces both emulated identity providers share: client authentication, PKCE, redirects,
the consent page and the error page."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Response, render_template, request

from emulator.state import User


def client_credentials() -> tuple[str | None, str | None, str]:
    """(client_id, client_secret, method) from HTTP Basic or the form body."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip()).decode()
        except ValueError:
            return None, None, "basic"
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret), "basic"
    return request.form.get("client_id"), request.form.get("client_secret"), "post"


def pkce_ok(challenge: str, method: str | None, verifier: str) -> bool:
    if (method or "plain") == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=") == challenge
    return verifier == challenge


def redirect_to(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in uri else "?"
    response = Response(status=302)
    response.headers["Location"] = uri + separator + query
    return response


def form_post(uri: str, params: dict[str, str | None]) -> Response:
    html = render_template(
        "emulator/form_post.html", action=uri, params={k: v for k, v in params.items() if v is not None}
    )
    return Response(html, mimetype="text/html")


def error_page(status: int, error: str, description: str) -> Response:
    html = render_template("emulator/error.html", status=status, error=error, description=description)
    return Response(html, status=status, mimetype="text/html")


def consent_page(
    *,
    provider_name: str,
    action: str,
    params: dict[str, str],
    users: list[User],
    selected: str | None,
    scopes: list[str],
    show_tenant: bool,
) -> Response:
    html = render_template(
        "emulator/consent.html",
        provider_name=provider_name,
        action=action,
        params=params,
        client_id=params.get("client_id", ""),
        users=users,
        selected=selected or (users[0].email if users else None),
        scopes=scopes,
        show_tenant=show_tenant,
    )
    return Response(html, mimetype="text/html")


def request_params() -> dict[str, str]:
    """Authorization parameters: the query string on GET, the hidden form fields on the consent POST."""
    source: Any = request.args if request.method == "GET" else request.form
    skip = {"account", "grant_scope", "decision"}
    return {key: str(value) for key, value in source.items() if key not in skip}
