"""Heartbeats: the worker and the beat write "alive" to the database every few seconds.

``record_heartbeat`` is the one writer; ``start_heartbeat`` runs it on a daemon thread. Readiness,
the metrics and the dashboard banner read the newest heartbeat of each kind
(``webapp.observability.status.heartbeat_ages``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import delete, insert, update

from webapp.extensions import db, utcnow
from webapp.models import Heartbeat, HeartbeatKind

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# Rows of processes gone this long are removed by the next write of their kind.
FORGET_AFTER = timedelta(days=1)


def instance_id() -> str:
    """This process: host name and pid (stored for operators; never shown by /readyz)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def record_heartbeat(kind: HeartbeatKind | str, instance: str, now: datetime | None = None) -> None:
    """Say that *instance* (a worker or a scheduler) is alive at *now*, on its own connection and commit.

    An UPDATE, then an INSERT the first time: each instance writes only its own row, so the two
    statements never race with another writer.
    """
    now = now or utcnow()
    kind = HeartbeatKind(kind)
    with db.engine.begin() as conn:
        updated = conn.execute(
            update(Heartbeat).where(Heartbeat.kind == kind, Heartbeat.instance_id == instance).values(seen_at=now)
        )
        if updated.rowcount == 0:
            conn.execute(insert(Heartbeat).values(kind=kind, instance_id=instance, started_at=now, seen_at=now))
            conn.execute(delete(Heartbeat).where(Heartbeat.kind == kind, Heartbeat.seen_at < now - FORGET_AFTER))


def start_heartbeat(app: Flask, kind: HeartbeatKind, interval: float = HEARTBEAT_SECONDS) -> threading.Event:
    """Write *kind*'s heartbeat now and every *interval* seconds on a daemon thread; set the event to stop."""
    stop = threading.Event()
    instance = instance_id()

    def beat() -> None:
        failing = False
        while True:
            try:
                with app.app_context():
                    record_heartbeat(kind, instance)
                if failing:
                    log.info("%s heartbeat written again", kind)
                failing = False
            except Exception as exc:  # the database may be down for a while: say so once, keep trying
                if not failing:
                    log.warning("%s heartbeat could not be written: %s", kind, type(exc).__name__)
                failing = True
            if stop.wait(interval):
                return

    threading.Thread(target=beat, name=f"{kind}-heartbeat", daemon=True).start()
    return stop
