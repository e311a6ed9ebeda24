"""Requested syncs go from the database to the queue here, every second, on the worker side.

Whoever wants a sync (the API, the consent flow, the dashboard, a push notification, a retry after
a transient failure) records when it is wanted in ``Calendar.sync_requested_at``, in the same
commit as the change that calls for it. Nothing is published from that process: a web worker never
loads the broker client, a request costs no publish, and no request is lost between a commit and
a publish that failed. This task, run by the beat every second, queues each requested sync once.

A request stays until a sync that started after it finishes (``answer_request``), so nothing is
lost with a worker: a sync whose worker died is queued again as soon as its lease runs out (at most
``SYNC_LEASE_SECONDS``), and a queued message that never started a sync (lost with a broker or a
killed worker) is queued again after ``REDISPATCH_AFTER``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, or_, select, update

from webapp.extensions import db
from webapp.models import Calendar

# A queued sync that has not finished after this long (its message was lost) is queued again.
REDISPATCH_AFTER = timedelta(seconds=60)
BATCH = 500


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Calendar.sync_requested_at <= now,
        or_(
            Calendar.sync_dispatched_at.is_(None),
            Calendar.sync_dispatched_at < now - REDISPATCH_AFTER,
            Calendar.lease_expires_at < now,  # its sync started and died: the lease ran out unreleased
        ),
        or_(Calendar.lease_expires_at.is_(None), Calendar.lease_expires_at < now),  # not being synced
        or_(Calendar.next_attempt_at.is_(None), Calendar.next_attempt_at <= now),  # not backing off
    ]


def claim_requested(now: datetime) -> list[int]:
    """Mark the calendars whose requested sync is due as dispatched, and return them (oldest request
    first). The conditional UPDATE makes two dispatchers (two beats) claim each calendar once."""
    candidates = list(
        db.session.scalars(select(Calendar.id).where(*_due(now)).order_by(Calendar.sync_requested_at).limit(BATCH))
    )
    if not candidates:
        return []
    claimed = db.session.scalars(
        update(Calendar)
        .where(Calendar.id.in_(candidates), *_due(now))
        .values(sync_dispatched_at=now, lease_token=None, lease_expires_at=None)  # only dead leases match
        .returning(Calendar.id)
    ).all()
    db.session.commit()
    order = {calendar_id: i for i, calendar_id in enumerate(candidates)}
    return sorted(claimed, key=order.__getitem__)


def answer_request(calendar_id: int, started: datetime) -> None:
    """A finished sync (success or recorded failure) answers every request made before it started.

    Only then, never as it starts: a sync whose worker dies leaves the request pending, and the
    dispatcher queues it again. A request made during the sync is newer and stays for a sync of its own.
    """
    db.session.execute(
        update(Calendar)
        .where(Calendar.id == calendar_id)
        .values(
            sync_dispatched_at=None,
            sync_requested_at=case((Calendar.sync_requested_at <= started, None), else_=Calendar.sync_requested_at),
        )
        .execution_options(synchronize_session=False)
    )
