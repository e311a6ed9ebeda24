"""Opaque cursors and the page envelope ``{"next", "previous", "results"}``."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from webapp.errors import BadQuery, InvalidCursor
from webapp.keyset import Cursor, Page

# Integers a cursor may carry: what a 64-bit column holds (SQLite refuses larger ones with an error).
_INT64 = range(-(2**63), 2**63)
_PAGE_SIZE = re.compile(r"[0-9]{1,4}")


def encode_cursor(cursor: Cursor) -> str:
    value = cursor.value.isoformat() if isinstance(cursor.value, datetime) else cursor.value
    raw = json.dumps({"v": value, "i": cursor.id, "r": int(cursor.reverse)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str | None, *, kind: type = int) -> Cursor | None:
    """Read a cursor whose sort value is an ``int`` or a ``datetime``.

    :raises InvalidCursor: anything this service did not produce.
    """
    if value is None:
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        sort_value, row_id, reverse = data["v"], data["i"], data["r"]
        if kind is datetime:
            sort_value = datetime.fromisoformat(sort_value)
            if sort_value.tzinfo is None:
                raise ValueError("naive")
            sort_value = sort_value.astimezone(UTC)  # OverflowError: outside what a database stores
        elif type(sort_value) is not int or sort_value not in _INT64:
            raise ValueError("not an int")
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error, UnicodeEncodeError):
        raise InvalidCursor() from None
    if type(row_id) is not int or row_id not in _INT64 or reverse not in (0, 1):
        raise InvalidCursor()
    return Cursor(sort_value, row_id, bool(reverse))


def page_size(default: int, maximum: int = 100) -> int:
    """The ``page_size`` extension. :raises BadQuery: not an integer from 1 to *maximum*."""
    raw = request.args.get("page_size")
    if raw is None:
        return default
    if not _PAGE_SIZE.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise BadQuery(f"Invalid page_size. Use an integer from 1 to {maximum}.")
    return int(raw)


def _link(cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    args.append(("cursor", encode_cursor(cursor)))
    return f"{request.base_url}?{urlencode(args)}"


def page_json(page: Page[Any], serialize: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    return {
        "next": _link(page.next),
        "previous": _link(page.previous),
        "results": [serialize(item) for item in page.items],
    }


def raw_page_response(page: Page[Any], documents: Callable[[list[Any]], list[str]]) -> Response:
    """The page envelope around items that are already JSON text (spliced, not re-encoded)."""
    if page.next is None and page.previous is None:
        links = '{"next":null,"previous":null}'  # a single page, the usual answer to a filter
    else:
        links = json.dumps({"next": _link(page.next), "previous": _link(page.previous)}, separators=(",", ":"))
    body = links[:-1] + ',"results":[' + ",".join(documents(page.items)) + "]}"
    return Response(body, mimetype="application/json")
