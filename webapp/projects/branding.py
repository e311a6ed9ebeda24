"""A project's branding of its end-user pages: validated here, once, for the dashboard and the CLI.

Safe by construction: every value is plain text or a URL checked here (https only for the logo,
http(s) for links), the accent colour is ``#rrggbb`` and nothing else; templates print them
autoescaped and never as HTML, and the colour reaches the page only through a same-origin
stylesheet whose URL admits six hex digits (``webapp.onboarding.views.accent_stylesheet``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webapp.errors import FieldErrors
from webapp.extensions import db
from webapp.models import Project

FIELDS = ("display_name", "logo_url", "accent_color", "support_url", "privacy_url", "terms_url")
URL_FIELDS = ("logo_url", "support_url", "privacy_url", "terms_url")
DISPLAY_NAME_MAX = 100
URL_MAX = 2048
ACCENT = re.compile(r"#[0-9a-fA-F]{6}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A host name (or IPv4 address) and an optional port: nothing else may reach the page's CSP header.
_NETLOC = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?")

HTTPS_ONLY = "Enter an https:// URL (the logo is loaded by the end user's browser)."
HTTP_URL = "Enter an absolute http(s) URL (http:// or https://)."
ACCENT_FORMAT = "Enter a colour as #rrggbb, for example #0b57d0."


@dataclass(frozen=True)
class Branding:
    """What the end-user pages show for a project (``name`` falls back to the project's name)."""

    name: str
    logo_url: str | None
    accent_color: str | None
    support_url: str | None
    privacy_url: str | None
    terms_url: str | None

    @classmethod
    def of(cls, project: Project) -> Branding:
        return cls(
            name=project.display_name or project.name,
            logo_url=project.logo_url,
            accent_color=project.accent_color,
            support_url=project.support_url,
            privacy_url=project.privacy_url,
            terms_url=project.terms_url,
        )

    @property
    def logo_origin(self) -> str | None:
        """The logo's origin, for the page's ``img-src`` (the logo URL is https, checked on the way in)."""
        if not self.logo_url:
            return None
        parts = urlsplit(self.logo_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def accent_text(self) -> str | None:
        """Black or white, whichever reads better on the accent colour (WCAG contrast ratio)."""
        if not self.accent_color:
            return None
        return (
            "#000000" if contrast(self.accent_color, "#000000") >= contrast(self.accent_color, "#ffffff") else "#ffffff"
        )


def as_dict(project: Project) -> dict[str, str | None]:
    return {name: getattr(project, name) for name in FIELDS}


def set_branding(*, project: Project, changes: dict[str, Any]) -> Project:
    """Apply *changes* (field name -> new value; ``None`` or blank clears it) after checking every one.

    :raises FieldErrors: each refused field with its message; nothing is changed then.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str | None] = {}
    for name, raw in changes.items():
        if name not in FIELDS:
            errors[name] = ["Unknown branding field."]
            continue
        value = raw.strip() if isinstance(raw, str) else raw
        if value in (None, ""):
            cleaned[name] = None
            continue
        if not isinstance(value, str):
            errors[name] = ["Must be text."]
            continue
        message = _check(name, value)
        if message:
            errors[name] = [message]
        else:
            cleaned[name] = value.lower() if name == "accent_color" else value
    if errors:
        raise FieldErrors(errors)
    for name, value in cleaned.items():
        setattr(project, name, value)
    db.session.commit()
    return project


def _check(name: str, value: str) -> str | None:
    if name == "display_name":
        if len(value) > DISPLAY_NAME_MAX:
            return f"Ensure this field has no more than {DISPLAY_NAME_MAX} characters."
        if _CONTROL.search(value):
            return "Must not contain control characters."
        return None
    if name == "accent_color":
        return None if ACCENT.fullmatch(value) else ACCENT_FORMAT
    return _check_url(value, https_only=name == "logo_url")


def _check_url(value: str, *, https_only: bool) -> str | None:
    message = HTTPS_ONLY if https_only else HTTP_URL
    if len(value) > URL_MAX:
        return f"Ensure this field has no more than {URL_MAX} characters."
    if _CONTROL.search(value) or any(c.isspace() for c in value) or "\\" in value:
        return message
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # a port that is not a number raises here
    except ValueError:
        return message
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme.lower() not in allowed or not _NETLOC.fullmatch(parts.netloc):
        return message
    return None


def _luminance(color: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else float(((c + 0.055) / 1.055) ** 2.4)

    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
