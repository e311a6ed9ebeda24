"""Connection-pool liveness: ping a pooled connection only when it may have died.

SQLAlchemy's ``pool_pre_ping`` costs a database round trip on every checkout, that is on every
API request: about a third of the work of a detail read. A connection returned moments ago is
usually alive; one that sat idle may have been dropped (a database restart, an idle timeout, a
proxy). So only those are pinged, and a dead one is replaced before the request uses it.

A PostgreSQL backend that is terminated (``pg_terminate_backend``, a restart, a failover) tells
its client so before it closes: its socket turns readable while the connection sits idle in the
pool. Checking that costs a ``select`` call, no round trip, so it is done at every checkout, and
such a connection is pinged (and replaced) too. What still dies mid-request is handled by
``webapp.error_handlers.rerun_after_disconnect``, which runs a request that wrote nothing again.
"""

from __future__ import annotations

import select
import time
from typing import Any

from flask import Flask, g, has_request_context
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from webapp.extensions import db

# A connection idle for longer than this is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 10.0

_RETURNED_AT = "returned_at"


def size_for_threads(app: Flask) -> None:
    """Keep a connection per thread that may hold one at once, instead of SQLAlchemy's 5.

    A worker runs ``SYNC_CONCURRENCY`` syncs at once, each checking a connection out several
    times. With the default pool (5 kept, 10 more opened on demand and closed on return), most
    checkouts opened a new database connection: measured in ``bench/scale.py``, it held 16
    threads to 18 syncs a second. The pool keeps up to this many (it opens them only when asked),
    and lets the lease heartbeat threads (one per running sync, a short UPDATE every 15 s) open a
    few more. In-memory SQLite has its own pools, and explicit settings win.
    """
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    uri = str(app.config.get("SQLALCHEMY_DATABASE_URI") or "")
    if "poolclass" in options or uri in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in uri:
        return
    threads = int(app.config["SYNC_CONCURRENCY"])
    options.setdefault("pool_size", threads + 4)  # the sync threads, the webhook and heartbeat threads
    options.setdefault("max_overflow", threads)  # the lease heartbeats, briefly
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def ping_idle_connections(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Register the listeners on *engine*'s pool (instead of ``pool_pre_ping``)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _remember_return(dbapi_connection: Any, connection_record: Any) -> None:
        if connection_record is not None:
            connection_record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
        returned_at = connection_record.info.pop(_RETURNED_AT, None)
        if returned_at is None:
            return  # new
        if time.monotonic() - returned_at < idle_seconds and not _has_unread_input(dbapi_connection):
            return  # returned moments ago, and the server has said nothing since
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and checks out a fresh one in its place.
            raise exc.DisconnectionError(f"pooled connection failed its ping: {type(error).__name__}") from error


def _has_unread_input(dbapi_connection: Any) -> bool:
    """Whether an idle PostgreSQL connection has something to read: at rest nothing arrives, but a
    terminated backend sends its FATAL message and closes. A ``select`` with no timeout, no I/O."""
    fileno = getattr(dbapi_connection, "fileno", None)  # psycopg has one; SQLite has no socket
    if fileno is None:
        return False
    try:
        readable, _, _ = select.select([fileno()], [], [], 0)
    except Exception:  # a closed connection (the driver's own error, or a bad descriptor): ping it
        return True
    return bool(readable)


def track_writes(engine: Engine) -> None:
    """Mark the request (``g.db_wrote``) once it sent anything but a ``SELECT``: from then on a
    lost connection may have committed part of its work, so the request is not run again."""
    event.listen(engine, "before_cursor_execute", note_write)


def note_write(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
    if not statement.startswith("SELECT") and has_request_context():
        g.db_wrote = True


def end_session(error: BaseException | None = None) -> None:
    """End the request's session (teardown, in place of Flask-SQLAlchemy's own) without failing a request
    that already has its answer: when the connection died after the last statement, the closing
    ``ROLLBACK`` cannot reach the server, and the connection is discarded instead."""
    try:
        db.session.remove()
    except exc.DBAPIError as failure:
        if not failure.connection_invalidated:
            raise
