"""Keyset (cursor) pagination over (sort column, id): every page is an index walk, whatever the offset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from webapp.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    """A position: the sort value and id of a row, and whether to read towards the start."""

    value: Any
    id: int
    reverse: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: Cursor | None
    previous: Cursor | None


def keyset_page(
    query: Select[Any],
    *,
    sort: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[int],
    descending: bool,
    cursor: Cursor | None,
    page_size: int,
    plain_rows: bool = False,
) -> Page[T]:
    """One page of *query* ordered by (sort, id); rows inserted meanwhile never shift a page."""
    towards_end = cursor is None or not cursor.reverse
    read_descending = descending if towards_end else not descending
    columns: tuple[Any, ...] = (id_column,) if sort is id_column else (sort, id_column)
    if cursor is not None:
        key: Any = id_column if sort is id_column else tuple_(sort, id_column)
        position: Any = (
            cursor.id
            if sort is id_column
            else tuple_(literal(cursor.value, sort.type), literal(cursor.id, id_column.type))
        )
        query = query.where(key < position if read_descending else key > position)
    order = [c.desc() if read_descending else c.asc() for c in columns]
    ordered = query.order_by(*order).limit(page_size + 1)
    # ORM objects, or plain rows when the caller selected just the columns the page needs (cheaper).
    rows: list[Any] = list(db.session.execute(ordered)) if plain_rows else list(db.session.scalars(ordered))
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if not towards_end:
        rows.reverse()

    def position_of(row: Any, reverse: bool) -> Cursor:
        return Cursor(getattr(row, sort.key), getattr(row, id_column.key), reverse)

    if towards_end:
        following = position_of(rows[-1], False) if has_more else None
        previous = position_of(rows[0], True) if cursor is not None and rows else None
    else:
        following = position_of(rows[-1], False) if rows else None
        previous = position_of(rows[0], True) if has_more and rows else None
    return Page(rows, following, previous)
