"""Request bodies to typed values, with Attendee's (Django REST framework's) exact messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import request

from webapp.errors import FieldErrors, FrameworkError, NonFieldError
from webapp.i18n import SUPPORTED_LOCALES
from webapp.models import Platform


class _Missing:
    """Marks a field absent from the body (distinct from ``null``)."""


MISSING: Any = _Missing()

CREATE_FIELDS = (
    "platform",
    "client_id",
    "client_secret",
    "refresh_token",
    "platform_uuid",
    "metadata",
    "deduplication_key",
)
PATCH_FIELDS = ("client_secret", "refresh_token", "metadata")
MAX_LENGTHS = {
    "client_id": 255,
    "client_secret": 4096,
    "refresh_token": 4096,
    "platform_uuid": 1024,
    "deduplication_key": 1024,
    "calendar_id": 64,
    "redirect_url": 2048,
}
METADATA_MAX_JSON_LENGTH = 1000


class _FieldInvalid(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def json_object() -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}``.

    :raises FrameworkError: wrong media type or malformed JSON.
    :raises NonFieldError: valid JSON that is not an object.
    """
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        content_type = request.headers.get("Content-Type", "")
        raise FrameworkError(f'Unsupported media type "{content_type}" in request.', 415)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise FrameworkError(f"JSON parse error - {exc}") from None
    except RecursionError:
        raise FrameworkError("JSON parse error - maximum nesting depth exceeded") from None
    except ValueError as exc:
        raise FrameworkError(f"JSON parse error - {exc}") from None
    if _has_lone_surrogate(data):
        raise FrameworkError("JSON parse error - lone surrogate in a \\u escape is not valid Unicode")
    if data is None:
        raise NonFieldError("No data provided")
    if not isinstance(data, dict):
        raise NonFieldError(f"Invalid data. Expected a dictionary, but got {type(data).__name__}.")
    return data


def _has_lone_surrogate(data: Any) -> bool:
    """``"\\ud800"`` parses as JSON but cannot be stored or encoded as UTF-8."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError("Out of range float values are not allowed")


def _string(value: Any, name: str) -> str:
    if value is None:
        raise _FieldInvalid("This field may not be null.")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _FieldInvalid("Not a valid string.")
    text = str(value).strip()
    if not text:
        raise _FieldInvalid("This field may not be blank.")
    if "\x00" in text:
        raise _FieldInvalid("Null characters are not allowed.")
    limit = MAX_LENGTHS[name]
    if len(text) > limit:
        raise _FieldInvalid(f"Ensure this field has no more than {limit} characters.")
    return text


def _platform(value: Any, name: str) -> Platform:
    if value is None:
        raise _FieldInvalid("This field may not be null.")
    try:
        return Platform(str(value))
    except ValueError:
        raise _FieldInvalid(f'"{value}" is not a valid choice.') from None


def _metadata(value: Any, name: str) -> dict[str, str]:
    if value is None:
        raise _FieldInvalid("This field may not be null.")
    if not isinstance(value, dict):
        raise _FieldInvalid("Metadata must be an object not an array or other type")
    if not value:
        raise _FieldInvalid("Metadata must have at least one key")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _FieldInvalid(f"Value for key '{key}' must be a string")
        if "\x00" in key or "\x00" in item:
            raise _FieldInvalid("Null characters are not allowed.")
    if len(json.dumps(value)) > METADATA_MAX_JSON_LENGTH:
        raise _FieldInvalid(f"Metadata must be less than {METADATA_MAX_JSON_LENGTH} characters")
    return value


def _absolute_url(value: Any, name: str) -> str:
    """An absolute http(s) URL (which origins are allowed is the service's decision)."""
    text = _string(value, name)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise _FieldInvalid("Enter a valid absolute http(s) URL.")
    return text


def _locale(value: Any, name: str) -> str:
    """One of the languages of the end-user pages (``webapp.i18n.SUPPORTED_LOCALES``)."""
    if value is None:
        raise _FieldInvalid("This field may not be null.")
    if not isinstance(value, str) or value not in SUPPORTED_LOCALES:
        raise _FieldInvalid(f'"{value}" is not a valid choice.')
    return value


_PARSERS = {
    "platform": _platform,
    "client_id": _string,
    "client_secret": _string,
    "refresh_token": _string,
    "platform_uuid": _string,
    "metadata": _metadata,
    "deduplication_key": _string,
    "calendar_id": _string,
    "redirect_url": _absolute_url,
    "locale": _locale,
}


def _parse(data: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    """Validate every allowed field; report unknown fields only when the known ones are valid."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in allowed:
        if name not in data:
            if name in required:
                errors[name] = ["This field is required."]
            continue
        try:
            values[name] = _PARSERS[name](data[name], name)
        except _FieldInvalid as exc:
            errors[name] = [exc.message]
    if errors:
        raise FieldErrors(errors)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise NonFieldError(
            f"Unexpected field(s): {', '.join(unknown)}. Allowed fields are: {', '.join(sorted(allowed))}"
        )
    return values


@dataclass(frozen=True)
class CreateCalendar:
    platform: Platform
    client_id: str
    client_secret: str
    refresh_token: str
    platform_uuid: str | None = None
    metadata: dict[str, str] | None = None
    deduplication_key: str | None = None


@dataclass(frozen=True)
class PatchCalendar:
    """Only the fields present in the body; absent ones stay MISSING."""

    client_secret: str = field(default=MISSING)
    refresh_token: str = field(default=MISSING)
    metadata: dict[str, str] = field(default=MISSING)


def parse_create_calendar(data: dict[str, Any]) -> CreateCalendar:
    """:raises FieldErrors | NonFieldError:"""
    values = _parse(data, CREATE_FIELDS, ("platform", "client_id", "client_secret", "refresh_token"))
    return CreateCalendar(**values)


def parse_patch_calendar(data: dict[str, Any]) -> PatchCalendar:
    """:raises FieldErrors | NonFieldError:"""
    return PatchCalendar(**_parse(data, PATCH_FIELDS, ()))


CONNECT_SESSION_FIELDS = ("platform", "calendar_id", "deduplication_key", "metadata", "redirect_url", "locale")


@dataclass(frozen=True)
class CreateConnectSession:
    platform: Platform | None = None
    calendar_id: str | None = None
    deduplication_key: str | None = None
    metadata: dict[str, str] | None = None
    redirect_url: str | None = None
    locale: str | None = None


def parse_create_connect_session(data: dict[str, Any]) -> CreateConnectSession:
    """:raises FieldErrors | NonFieldError:"""
    return CreateConnectSession(**_parse(data, CONNECT_SESSION_FIELDS, ()))
