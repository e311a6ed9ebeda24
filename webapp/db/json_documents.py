"""API objects rendered as JSON by the database, for reads: one text column per row, spliced as is.

Decoding a row's values and encoding them again in Python costs tens of microseconds per row; the
database builds the same document in C while it reads the row. Rendered at read time, a document
is never stale. PostgreSQL and SQLite are supported (the service's two backends).

Each document is a ``JsonDocument`` subclass naming its table and fields in the contract's key
order, and sets ``inherit_cache = True``: the class itself is the statement-cache key, so
statements holding one compile once.
Python serializers stay the reference for objects just written; tests pin that both agree.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import Text
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import _TraverseInternalsType


class Kind(Enum):
    VALUE = "value"  # text, numbers, booleans: as the database stores them
    JSON = "json"  # a JSON column, embedded as JSON rather than as a string
    TIMESTAMP = "timestamp"  # UTC, ISO 8601 with microseconds and "Z" (as ``webapp.timestamps.iso``)


class Field(NamedTuple):
    key: str
    column: str
    kind: Kind = Kind.VALUE


class JsonDocument(ColumnElement[str]):
    """The JSON text of one row of ``table``; select it beside a column of that table."""

    table: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]]
    type = Text()
    inherit_cache = True
    _traverse_internals: _TraverseInternalsType = []  # no state: the cache key is the class alone


def _column(compiler: SQLCompiler, table: str, field: Field) -> str:
    quote = compiler.preparer.quote
    return f"{quote(table)}.{quote(field.column)}"


@compiles(JsonDocument, "postgresql")
def _postgresql(element: JsonDocument, compiler: SQLCompiler, **kw: Any) -> str:
    # row_to_json keeps the fields' order and writes compact JSON (json_build_object adds spaces).
    parts = []
    for field in element.fields:
        column = _column(compiler, element.table, field)
        if field.kind is Kind.TIMESTAMP:
            column = f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
        parts.append(f"{column} AS {compiler.preparer.quote(field.key)}")
    return f"(SELECT row_to_json(document)::text FROM (SELECT {', '.join(parts)}) AS document)"


@compiles(JsonDocument, "sqlite")
def _sqlite(element: JsonDocument, compiler: SQLCompiler, **kw: Any) -> str:
    parts = []
    for field in element.fields:
        column = _column(compiler, element.table, field)
        if field.kind is Kind.JSON:
            column = f"json({column})"
        elif field.kind is Kind.TIMESTAMP:
            # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTCDateTime: in UTC).
            column = f"replace({column}, ' ', 'T') || 'Z'"
        parts.append(f"'{field.key}', {column}")
    return f"json_object({', '.join(parts)})"


@compiles(JsonDocument)
def _unsupported(element: JsonDocument, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"JSON documents are rendered on PostgreSQL and SQLite only, not {compiler.dialect.name}")
