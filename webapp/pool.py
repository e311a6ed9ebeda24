"""Connection-pool liveness: ping a pooled connection only when it has sat idle.

SQLAlchemy's ``pool_pre_ping`` costs a database round trip on every checkout, that is on every
API request: about a third of the work of a detail read. A connection returned moments ago is
alive; one that sat idle may have been dropped (a database restart, an idle timeout, a proxy).
So only those are pinged, and a dead one is replaced before the request uses it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

# A connection idle for longer than this is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 10.0

_RETURNED_AT = "returned_at"


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
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return  # new, or returned moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and checks out a fresh one in its place.
            raise exc.DisconnectionError(f"pooled connection failed its ping: {type(error).__name__}") from error
