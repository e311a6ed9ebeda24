"""One scheduler for every sync: each calendar's ``next_sync_at``, claimed from the database every second.

Whatever the reason to sync (creation, new credentials, the API, the dashboard, a push
notification, a transient failure's retry, the interval), it is written as the time the next sync
is due, in the same commit as the change that calls for it. Nothing is published from the web
process: a web worker never loads the broker client, and no request is lost between a commit and
a publish that failed. ``claim_due``, run by the beat every second, queues due syncs oldest first,
in batches, marking each claim (``sync_dispatched_at``) so that no calendar is queued twice.

Nothing is lost with a worker: a sync's end (success or recorded failure, ``finish``) is what sets
the next due time, so a sync whose worker died is still due, and is queued again as soon as its
lease runs out (at most ``SYNC_LEASE_SECONDS``); a queued message that never started a sync (lost
with a broker or a killed worker) is queued again after ``REDISPATCH_AFTER``. At most
``SYNC_QUEUE_LIMIT`` syncs wait in the broker at once: a backlog stays in the database, ordered by
due time, instead of piling up (and going stale) in the queue.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, case, func, or_, select, update

from webapp.extensions import db
from webapp.models import Calendar

# A queued sync that has not finished after this long (its message was lost) is queued again.
REDISPATCH_AFTER = timedelta(seconds=60)
# Finished syncs are due again a little before the interval ends, by a random share of up to this,
# so that calendars onboarded together spread out instead of coming due together forever.
INTERVAL_JITTER = 0.05
# A sync that ran late is due again one interval after it was due, but never sooner than this share
# of the interval after it ran: a calendar back from a long outage is not synced twice in a row.
MIN_GAP = 0.1


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Calendar.next_sync_at <= now,
        or_(
            Calendar.sync_dispatched_at.is_(None),
            Calendar.sync_dispatched_at < now - REDISPATCH_AFTER,
            Calendar.lease_expires_at < now,  # its sync started and died: the lease ran out unreleased
        ),
        or_(Calendar.lease_expires_at.is_(None), Calendar.lease_expires_at < now),  # not being synced
        or_(Calendar.next_attempt_at.is_(None), Calendar.next_attempt_at <= now),  # not backing off
    ]


def queued(now: datetime) -> int:
    """Syncs queued and not yet started (nor lost: those are queued again after REDISPATCH_AFTER)."""
    waiting = and_(
        Calendar.sync_dispatched_at >= now - REDISPATCH_AFTER,
        or_(Calendar.lease_expires_at.is_(None), Calendar.lease_expires_at < now),
    )
    return int(db.session.scalar(select(func.count()).select_from(Calendar).where(waiting)) or 0)


def claim_due(now: datetime) -> list[int]:
    """Mark due calendars as dispatched, and return them (earliest due first), as many as the queue
    has room for. The conditional UPDATE makes two dispatchers claim each calendar once."""
    room = int(current_app.config["SYNC_QUEUE_LIMIT"]) - queued(now)
    if room <= 0:
        return []
    candidates = list(
        db.session.scalars(select(Calendar.id).where(*_claimable(now)).order_by(Calendar.next_sync_at).limit(room))
    )
    if not candidates:
        db.session.commit()
        return []
    claimed = db.session.scalars(
        update(Calendar)
        .where(Calendar.id.in_(candidates), *_claimable(now))
        .values(sync_dispatched_at=now, lease_token=None, lease_expires_at=None)  # only dead leases match
        .returning(Calendar.id)
    ).all()
    db.session.commit()
    order = {calendar_id: i for i, calendar_id in enumerate(candidates)}
    return sorted(claimed, key=order.__getitem__)


def cycle_start(calendar: Calendar) -> datetime | None:
    """What a calendar's next interval counts from (see ``next_interval``): the time its sync was due,
    once it has synced before. A first sync (due since its creation) starts the cycle when it runs:
    calendars created in a burst then spread at the pace their first syncs run, not the pace they
    were created at."""
    return calendar.next_sync_at if calendar.last_successful_sync_at is not None else None


def next_interval(now: datetime, due: datetime | None) -> datetime:
    """When a calendar synced at *now*, having been due at *due* (``cycle_start``), is due again: one
    interval after it was due (less a little jitter), not after its sync ran; without *due*, one
    interval after *now*.

    Counting from the due time keeps each calendar's place in the cycle: a backlog (an onboarding
    longer than the interval, an outage) drains late once and is then due again spread out as
    before, instead of all together one interval after the drain. A sync that ran so late that the
    next one would be due within ``MIN_GAP`` of it skips to the following turn of its cycle.
    """
    interval = timedelta(minutes=current_app.config["SYNC_INTERVAL_MINUTES"])
    period = interval * (1 - random.uniform(0, INTERVAL_JITTER))
    following = (now if due is None else min(due, now)) + period
    earliest = now + interval * MIN_GAP
    if following < earliest:
        following += period * math.ceil((earliest - following) / period)
    return following


def finish(calendar: Calendar, started: datetime, following: datetime | None) -> None:
    """A finished sync (success or recorded failure) sets when the next one is due: *following*,
    unless a request made during the sync (due after *started*) asks for one of its own.

    Written into the sync's own UPDATE of the row (SQL expressions, so a request that lands
    meanwhile still wins), in the caller's commit. Only at the end, never as it starts: a sync whose
    worker dies leaves the calendar due.
    """
    calendar.sync_dispatched_at = None
    calendar.next_sync_at = case((Calendar.next_sync_at > started, Calendar.next_sync_at), else_=following)


def want_sync_at(calendar_ids: Iterable[int], wanted_at: datetime) -> int:
    """Ask for a sync at *wanted_at*, unless one is due sooner; returns how many calendars changed.

    A due time that a running sync has taken up (at or before its start) is replaced, so a change
    that lands during a sync gets a sync of its own.
    """
    result = db.session.execute(
        update(Calendar)
        .where(
            Calendar.id.in_(list(calendar_ids)),
            or_(
                Calendar.next_sync_at.is_(None),
                Calendar.next_sync_at > wanted_at,
                Calendar.next_sync_at <= Calendar.last_attempted_sync_at,
            ),
        )
        .values(next_sync_at=wanted_at)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
