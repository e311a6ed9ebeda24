"""One scheduler at a time: the Celery beat sends periodic work only while it holds a database lease.

Any number of beats may run (an orphan left by a crash, two machines configured by mistake, a
standby on purpose): the one holding the ``scheduler`` lease in ``service_lease`` sends the
periodic tasks (the once-a-second sync dispatcher, sweeps, renewals); the others check the lease
every few seconds and take over within ``LEASE_SECONDS`` of the holder's death. The schedule itself
lives in memory: every job is a short interval, and a new holder runs each at once.

A job whose options say ``run_in_scheduler`` (the sync dispatcher) is run here, in the beat's own
process, instead of being queued: queued, it waited behind the very syncs it had queued (up to
``SYNC_QUEUE_LIMIT``), so the queue ran dry before the next dispatch reached a worker, and threads
stood idle while calendars were due (measured in ``bench/scale.py``).

The holder's renewals are also the scheduler's heartbeat (``webapp.observability.heartbeats``).
Clocks of the machines that run beats must agree (NTP) to within a few seconds.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from datetime import datetime, timedelta
from typing import Any

from celery import beat
from sqlalchemy import case, delete, or_, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db, utcnow
from webapp.models import HeartbeatKind, ServiceLease
from webapp.observability.heartbeats import instance_id, record_heartbeat

log = logging.getLogger(__name__)

SCHEDULER_LEASE = "scheduler"
LEASE_SECONDS = 15.0  # a standby takes over at most this long after the holder stopped renewing
RENEW_SECONDS = 5.0  # how often the holder renews, and a standby looks


def hold_lease(name: str, holder: str, now: datetime, seconds: float) -> bool:
    """Take lease *name* if it is free or expired, or renew it if *holder* has it; True while held.

    One conditional UPDATE (or the first INSERT), so two contenders never both win, on SQLite and
    PostgreSQL alike.
    """
    expires = now + timedelta(seconds=seconds)
    taken = db.session.execute(
        update(ServiceLease)
        .where(ServiceLease.name == name, or_(ServiceLease.holder == holder, ServiceLease.expires_at < now))
        .values(
            holder=holder,
            acquired_at=case((ServiceLease.holder == holder, ServiceLease.acquired_at), else_=now),
            renewed_at=now,
            expires_at=expires,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if db.session.get(ServiceLease, name) is not None:
        return False
    db.session.add(ServiceLease(name=name, holder=holder, acquired_at=now, renewed_at=now, expires_at=expires))
    try:
        db.session.commit()
    except IntegrityError:  # another contender inserted it first
        db.session.rollback()
        return False
    return True


def release_lease(name: str, holder: str) -> None:
    db.session.execute(delete(ServiceLease).where(ServiceLease.name == name, ServiceLease.holder == holder))
    db.session.commit()


class LeasedScheduler(beat.Scheduler):  # type: ignore[misc]
    """Celery's in-memory scheduler, gated by the ``scheduler`` lease."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.holding = False
        self._next_look = 0.0
        self._said_standby = False
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if time.monotonic() >= self._next_look:
            self._look_at_lease()
        until_look = max(0.1, self._next_look - time.monotonic())
        if not self.holding:
            return until_look
        next_job: float = super().tick(*args, **kwargs)
        return min(next_job, until_look)

    def apply_async(self, entry: beat.ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any) -> Any:
        if not entry.options.get("run_in_scheduler"):
            return super().apply_async(entry, producer, advance, **kwargs)
        entry = self.reserve(entry) if advance else entry
        try:
            self.app.tasks[entry.task](*entry.args, **entry.kwargs)  # a FlaskTask: in an app context
        except Exception:
            log.warning("scheduler job %s failed; it runs again at its next tick", entry.task, exc_info=True)
        return None

    def _look_at_lease(self) -> None:
        self._next_look = time.monotonic() + RENEW_SECONDS
        was_holding = self.holding
        try:
            with self.app.flask_app.app_context():
                now = utcnow()
                self.holding = hold_lease(SCHEDULER_LEASE, self.holder, now, LEASE_SECONDS)
                if self.holding:  # the scheduler's heartbeat: /readyz, /metrics and the dashboard read it
                    record_heartbeat(HeartbeatKind.SCHEDULER, instance_id(), now)
        except Exception:
            log.warning("scheduler %s could not reach the database to renew its lease", self.holder, exc_info=True)
            self.holding = False
        if self.holding and not was_holding:
            log.info("scheduler %s took the scheduler lease: periodic work is sent from here", self.holder)
        elif was_holding and not self.holding:
            log.warning("scheduler %s lost the scheduler lease: standing by", self.holder)
        elif not self.holding and not self._said_standby:
            log.info("scheduler %s stands by: another beat has the scheduler lease", self.holder)
        self._said_standby = not self.holding

    def close(self) -> None:
        """On a clean stop, free the lease so that a standby takes over at once."""
        if self.holding:
            try:
                with self.app.flask_app.app_context():
                    release_lease(SCHEDULER_LEASE, self.holder)
                log.info("scheduler %s released the scheduler lease", self.holder)
            except Exception:
                log.warning("scheduler %s could not release its lease; it expires by itself", self.holder)
            self.holding = False
        super().close()
