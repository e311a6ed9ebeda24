"""Keyset (cursor) pagination over (sort column, id): every page is an index walk, whatever the offset."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Integer, Select, bindparam, literal, literal_column, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType

from webapp.db import autocommit
from webapp.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    """A position: the sort value and id of a row, and whether to read towards the start."""

    value: Any
    id: int
    reverse: bool = False


# Integers a cursor may carry: what a 64-bit column holds (SQLite refuses larger ones with an error).
_INT64 = range(-(2**63), 2**63)


def encode_cursor(cursor: Cursor) -> str:
    """The opaque text of a cursor (URL-safe base64 of a small JSON object), for the API and the dashboard."""
    value = cursor.value.isoformat() if isinstance(cursor.value, datetime) else cursor.value
    raw = json.dumps({"v": value, "i": cursor.id, "r": int(cursor.reverse)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str, *, kinds: Collection[type]) -> Cursor:
    """Read what ``encode_cursor`` wrote, whose sort value is one of *kinds* (``int``, ``datetime``,
    ``type(None)``); datetimes must carry their offset and come back in UTC.

    :raises ValueError: anything this service did not produce (the caller decides what that means).
    """
    try:
        data = json.loads(base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii")))
        raw, row_id, reverse = data["v"], data["i"], data["r"]
        value: Any
        if raw is None and type(None) in kinds:
            value = None
        elif type(raw) is int and int in kinds:
            value = raw if raw in _INT64 else _refuse()
        elif datetime in kinds:
            value = datetime.fromisoformat(raw)
            # Naive: not ours. OverflowError: outside what a database stores.
            value = value.astimezone(UTC) if value.tzinfo is not None else _refuse()
        else:
            _refuse()
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error, UnicodeEncodeError):
        raise ValueError("not a cursor of this service") from None
    if type(row_id) is not int or row_id not in _INT64 or reverse not in (0, 1):
        raise ValueError("not a cursor of this service")
    return Cursor(value, row_id, bool(reverse))


def _refuse() -> Any:
    raise ValueError("not a cursor of this service")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: Cursor | None
    previous: Cursor | None


@dataclass(frozen=True)
class KeysetQuery:
    """A list query's three statements: the first page, and the pages after and before a cursor.

    Their cursor is a bound parameter, so hot lists build them once (per page size, where it is
    written in) and reuse them: building a statement (and its cache key) costs more CPU than
    running an indexed page.
    """

    first: Select[Any]
    after: Select[Any]
    before: Select[Any]
    sort_key: str
    id_key: str


class HeldTo(ColumnElement[bool]):
    """``column = :name`` for a column that leads the list's ordering (see ``keyset_query``).

    PostgreSQL gets ``column = ANY(ARRAY[value])``. With ``=`` the planner treats the column as a
    constant and drops it from the ordering, so any index on the other columns fits, and it may
    walk one of those past other values' rows. The array form also makes its estimate the same for
    every value, so a prepared statement settles on one generic plan instead of planning anew at
    each run (it does for a project holding most of a large table). Other databases get ``=``.
    """

    inherit_cache = True
    _traverse_internals: _TraverseInternalsType = [
        ("column", InternalTraversal.dp_clauseelement),
        ("value", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: InstrumentedAttribute[Any], value: str | ColumnElement[Any]) -> None:
        """*value*: the name of a bound parameter, or an expression (a scalar subquery)."""
        self.column = column.expression
        self.value = bindparam(value, type_=column.type) if isinstance(value, str) else value


@compiles(HeldTo, "postgresql")
def _held_to_postgresql(element: HeldTo, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY(ARRAY[{compiler.process(element.value, **kw)}])"


@compiles(HeldTo)
def _held_to(element: HeldTo, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = {compiler.process(element.value, **kw)}"


def keyset_query(
    query: Select[Any],
    *,
    sort: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[int],
    descending: bool,
    leading: tuple[InstrumentedAttribute[Any], ...] = (),
    page_size: int | None = None,
) -> KeysetQuery:
    """The statements of *query* ordered by (sort, id), descending or ascending.

    *leading* columns come first in the ordering; the query holds each to one value with
    ``HeldTo``, so they change nothing but the index that fits. A *page_size* is written into the
    statements (``LIMIT 26``): a generic plan then knows the page is small, where it would assume a
    tenth of the rows for a bound limit. Without it the limit is bound (one statement for any size).
    """
    single = sort is id_column
    columns: tuple[Any, ...] = (id_column,) if single else (sort, id_column)
    cursor_id = bindparam("cursor_id", type_=id_column.type)
    key: Any = id_column if single else tuple_(sort, id_column)
    position: Any = cursor_id if single else tuple_(bindparam("cursor_value", type_=sort.type), cursor_id)
    limit: Any = (
        bindparam("page_limit", type_=Integer())
        if page_size is None
        else literal_column(str(int(page_size) + 1), Integer())
    )

    def ordered(statement: Select[Any], read_descending: bool) -> Select[Any]:
        ordering = (*leading, *columns)
        return statement.order_by(*[c.desc() if read_descending else c.asc() for c in ordering]).limit(limit)

    # The first page is bounded too, by the ends of the columns' ranges: to the planner a page then
    # always reads "this project's rows past a position", whose only fitting plan is the ordered
    # index walk. Unbounded, a planner without fresh statistics (a tenant that grew since the last
    # ANALYZE) took the project for a few rows and chose a bitmap scan plus a sort of all of them.
    end: Any = (
        _end_of(id_column, descending) if single else tuple_(_end_of(sort, descending), _end_of(id_column, descending))
    )
    return KeysetQuery(
        first=ordered(query.where(key <= end if descending else key >= end), descending),
        after=ordered(query.where(key < position if descending else key > position), descending),
        before=ordered(query.where(key > position if descending else key < position), not descending),
        sort_key=sort.key,
        id_key=id_column.key,
    )


# The ends of what a sort column holds: 32-bit ids (PostgreSQL's INTEGER), timestamps in years 1-9999.
_INTEGER_ENDS = (-(2**31), 2**31 - 1)
_TIMESTAMP_ENDS = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def _end_of(column: InstrumentedAttribute[Any], descending: bool) -> Any:
    """A constant at the end of *column*'s range that a walk starts from (the largest when descending)."""
    low, high = _INTEGER_ENDS if isinstance(column.type, Integer) else _TIMESTAMP_ENDS
    return literal(high if descending else low, column.type)


def keyset_page(
    query: Select[Any],
    *,
    sort: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[int],
    descending: bool,
    cursor: Cursor | None,
    page_size: int,
) -> Page[T]:
    """One page of ORM objects of a query built for this request."""
    statements = keyset_query(query, sort=sort, id_column=id_column, descending=descending)
    return read_page(statements, {}, cursor=cursor, page_size=page_size, plain_rows=False)


def read_page(
    statements: KeysetQuery,
    params: dict[str, Any],
    *,
    cursor: Cursor | None,
    page_size: int,
    plain_rows: bool = True,
) -> Page[T]:
    """One page; rows inserted meanwhile never shift it. Plain rows are read outside the session
    (``webapp.db.autocommit``, cheaper); otherwise the session loads ORM objects."""
    towards_end = cursor is None or not cursor.reverse
    bound = {**params, "page_limit": page_size + 1}
    if cursor is None:
        statement = statements.first
    else:
        statement = statements.after if towards_end else statements.before
        bound.update(cursor_value=cursor.value, cursor_id=cursor.id)
    rows: list[Any] = autocommit.rows(statement, bound) if plain_rows else list(db.session.scalars(statement, bound))
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if not towards_end:
        rows.reverse()

    def position_of(row: Any, reverse: bool) -> Cursor:
        return Cursor(getattr(row, statements.sort_key), getattr(row, statements.id_key), reverse)

    if towards_end:
        following = position_of(rows[-1], False) if has_more else None
        previous = position_of(rows[0], True) if cursor is not None and rows else None
    else:
        following = position_of(rows[-1], False) if rows else None
        previous = position_of(rows[0], True) if has_more and rows else None
    return Page(rows, following, previous)
