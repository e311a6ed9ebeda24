"""Per-project OAuth apps (with instance-wide defaults) and allowed redirect origins."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from webapp import crypto
from webapp.errors import FieldErrors
from webapp.extensions import db, utcnow
from webapp.models import ConnectRedirectOrigin, OAuthApp, Platform, ProjectScope

DEFAULT_MICROSOFT_TENANT = "common"


@dataclass(frozen=True)
class AppCredentials:
    """Decrypted client credentials for one consent flow; never stored or logged as such."""

    platform: Platform
    client_id: str
    client_secret: str
    tenant: str | None = None


def set_oauth_app(
    *, project: ProjectScope, platform: Platform, client_id: str, client_secret: str, tenant: str | None = None
) -> OAuthApp:
    """Create or replace the project's OAuth app for *platform* (tenant only for Microsoft)."""
    client_id = client_id.strip()
    client_secret = client_secret.strip()
    errors: dict[str, list[str]] = {}
    if not client_id:
        errors["client_id"] = ["This field may not be blank."]
    if not client_secret:
        errors["client_secret"] = ["This field may not be blank."]
    if tenant is not None and platform is not Platform.MICROSOFT:
        errors["tenant"] = ["Only Microsoft OAuth apps have a tenant."]
    if errors:
        raise FieldErrors(errors)
    if platform is Platform.MICROSOFT:
        tenant = (tenant or "").strip() or DEFAULT_MICROSOFT_TENANT
    app = oauth_app_of(project, platform)
    now = utcnow()
    if app is None:
        app = OAuthApp(project_id=project.id, platform=platform, created_at=now)
        db.session.add(app)
    app.client_id = client_id
    app.client_secret_ciphertext = crypto.encrypt(client_secret)
    app.tenant = tenant
    app.updated_at = now
    db.session.commit()
    return app


def oauth_app_of(project: ProjectScope, platform: Platform) -> OAuthApp | None:
    return db.session.scalar(select(OAuthApp).where(OAuthApp.project_id == project.id, OAuthApp.platform == platform))


def credentials_for(project: ProjectScope, platform: Platform) -> AppCredentials | None:
    """The project's own OAuth app, else the instance-wide one from settings, else None."""
    app = oauth_app_of(project, platform)
    if app is not None:
        return AppCredentials(platform, app.client_id, crypto.decrypt(app.client_secret_ciphertext), app.tenant)
    config = current_app.config
    prefix = platform.upper()
    client_id = str(config.get(f"{prefix}_CLIENT_ID") or "").strip()
    client_secret = str(config.get(f"{prefix}_CLIENT_SECRET") or "").strip()
    if not client_id or not client_secret:
        return None
    tenant = None
    if platform is Platform.MICROSOFT:
        tenant = str(config.get("MICROSOFT_TENANT") or DEFAULT_MICROSOFT_TENANT)
    return AppCredentials(platform, client_id, client_secret, tenant)


def available_platforms(project: ProjectScope) -> list[Platform]:
    """Platforms the project can connect through the browser (an OAuth app is configured)."""
    return [p for p in Platform if oauth_app_of(project, p) is not None or _has_default(p)]


def _has_default(platform: Platform) -> bool:
    prefix = platform.upper()
    config = current_app.config
    return bool(str(config.get(f"{prefix}_CLIENT_ID") or "").strip()) and bool(
        str(config.get(f"{prefix}_CLIENT_SECRET") or "").strip()
    )


# --- redirect origins ---------------------------------------------------------------------------


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL (lowercased, default port dropped), else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        return None
    if any(c.isspace() for c in url.strip()):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def allow_redirect_origin(*, project: ProjectScope, origin: str) -> ConnectRedirectOrigin:
    """Add an allowed origin (idempotent). :raises FieldErrors: not a bare http(s) origin."""
    normalized = origin_of(origin)
    parts = urlsplit(origin.strip())
    if normalized is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise FieldErrors({"origin": ["Enter an origin such as https://app.example.com (no path)."]})
    existing = db.session.scalar(
        select(ConnectRedirectOrigin).where(
            ConnectRedirectOrigin.project_id == project.id, ConnectRedirectOrigin.origin == normalized
        )
    )
    if existing is not None:
        return existing
    row = ConnectRedirectOrigin(project_id=project.id, origin=normalized)
    db.session.add(row)
    db.session.commit()
    return row


def redirect_allowed(project: ProjectScope, url: str) -> bool:
    """True when *url* is an absolute http(s) URL whose origin the project allowed."""
    origin = origin_of(url)
    if origin is None:
        return False
    found = db.session.scalar(
        select(ConnectRedirectOrigin.id).where(
            ConnectRedirectOrigin.project_id == project.id, ConnectRedirectOrigin.origin == origin
        )
    )
    return found is not None
