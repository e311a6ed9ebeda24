"""The request body as a JSON object, with Attendee's (Django REST framework's) exact messages.

Each body's fields are then parsed by its declaration (``objects.py``, ``shapes.Body.parse``)."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from webapp.errors import FrameworkError, NonFieldError


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
