"""Opaque cursors and the page envelope ``{"next", "previous", "results"}``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from webapp.db import keyset
from webapp.db.keyset import Cursor, Page, encode_cursor
from webapp.errors import BadQuery, InvalidCursor

_PAGE_SIZE = re.compile(r"[0-9]{1,4}")


def decode_cursor(value: str | None, *, kind: type = int) -> Cursor | None:
    """Read a cursor whose sort value is an ``int`` or a ``datetime``.

    :raises InvalidCursor: anything this service did not produce.
    """
    if value is None:
        return None
    try:
        return keyset.decode_cursor(value, kinds=(kind,))
    except ValueError:
        raise InvalidCursor() from None


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
