"""Opaque cursors and the page envelope ``{"next", "previous", "results"}``."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from flask import request

from webapp.calendars.queries import Cursor, Page
from webapp.errors import BadQuery, InvalidCursor


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps({"p": cursor.position, "r": int(cursor.reverse)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str | None) -> Cursor | None:
    """:raises InvalidCursor: anything this service did not produce."""
    if value is None:
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        position, reverse = data["p"], data["r"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        raise InvalidCursor() from None
    if type(position) is not int or reverse not in (0, 1):
        raise InvalidCursor()
    return Cursor(position, bool(reverse))


def page_size(default: int, maximum: int = 100) -> int:
    """The ``page_size`` extension. :raises BadQuery: not an integer from 1 to *maximum*."""
    raw = request.args.get("page_size")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadQuery(f"Invalid page_size. Use an integer from 1 to {maximum}.")
    return int(raw)


def _link(cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    args.append(("cursor", encode_cursor(cursor)))
    return f"{request.base_url}?{urlencode(args)}"


def page_json(page: Page, serialize: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    items: Iterable[Any] = page.items
    return {
        "next": _link(page.next),
        "previous": _link(page.previous),
        "results": [serialize(item) for item in items],
    }
