"""One autocommit connection per request (or task), for statements that stand alone.

The API key lookup and the API's list and detail reads run Core statements here, and so does a
calendar create, which is a single INSERT (it commits by itself). Why not the ORM session: for a
statement that reads plain rows or writes one, the session's machinery (ORM compilation, identity
map, its transaction's BEGIN and COMMIT or ROLLBACK round trips) costs about twice what running
the statement does. Changes that span statements, and reads of objects that will be changed, use
the session.
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import Connection, Executable

from webapp.extensions import db


def connection() -> Connection:
    """This request's read connection, opened on first use (autocommit: no transaction to end)."""
    conn: Connection | None = g.get("read_connection")
    if conn is None:
        conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        g.read_connection = conn
    return conn


def rows(statement: Executable, params: dict[str, Any] | None = None) -> list[Any]:
    return connection().execute(statement, params).all()  # type: ignore[return-value]


def first(statement: Executable, params: dict[str, Any] | None = None) -> Any:
    """The first row, or None."""
    return connection().execute(statement, params).first()


def release(exc: BaseException | None = None) -> None:
    """Give the connection back to the pool (teardown of each request and app context)."""
    conn: Connection | None = g.pop("read_connection", None)
    if conn is not None:
        conn.close()
