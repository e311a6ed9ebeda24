"""What a sync outcome does to a calendar's state: the taxonomy's disconnect rules, retries, history."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app

from webapp.backoff import backoff_delay
from webapp.extensions import db
from webapp.models import Calendar, CalendarState, CalendarStateChange
from webapp.observability.metrics import record_state_change, record_sync_attempt
from webapp.providers.failures import Failure, failure_data
from webapp.sync import dispatch
from webapp.sync.result import Stopwatch, SyncResult
from webapp.webhooks import service as webhooks

STATE_CHANGE = "calendar.state_change"
EVENTS_UPDATE = "calendar.events_update"

log = logging.getLogger(__name__)


def change_state(calendar: Calendar, to_state: CalendarState, code: str | None, now: datetime) -> None:
    """Set the state and record the transition (nothing is recorded when the state stays the same)."""
    if calendar.state == to_state:
        return
    db.session.add(
        CalendarStateChange(
            calendar_id=calendar.id,
            from_state=calendar.state,
            to_state=to_state,
            code=code,
            created_at=now,
        )
    )
    calendar.state = to_state
    record_state_change(calendar.platform, to_state, code)  # calendar_disconnects_total


def mark_healthy(calendar: Calendar, now: datetime) -> None:
    """A successful sync: connected, failure data cleared, the failure run reset."""
    change_state(calendar, CalendarState.CONNECTED, None, now)
    calendar.connection_failure_data = None
    calendar.failure_count = 0
    calendar.first_failed_at = None
    calendar.last_failure_code = None
    calendar.next_attempt_at = None


def backoff_seconds(failure: Failure, attempt: int) -> float:
    """``Retry-After`` when the provider gave one; otherwise the service's backoff (``webapp.backoff``)."""
    if failure.retry_after is not None:
        return max(1.0, failure.retry_after)
    config = current_app.config
    return backoff_delay(attempt, base=config["SYNC_BACKOFF_BASE_SECONDS"], cap=config["SYNC_BACKOFF_MAX_SECONDS"])


def _should_disconnect(calendar: Calendar, failure: Failure, now: datetime) -> bool:
    if failure.disconnects == "yes":
        return True
    if failure.disconnects == "confirm":
        config = current_app.config
        first = calendar.first_failed_at or now
        enough_failures = calendar.failure_count >= int(config["SYNC_CONFIRM_FAILURES"])
        return enough_failures and (now - first).total_seconds() >= int(config["SYNC_CONFIRM_SECONDS"])
    return False


def record_failure(calendar_id: int, failure: Failure, now: datetime, started: Stopwatch) -> SyncResult:
    """Apply the failure rules in one commit, then schedule a retry if one is due.

    Definitive failures disconnect at once; ``confirm`` ones after N consecutive failures over T;
    transient ones keep the state and retry with backoff until the retry budget is spent.
    """
    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None:
        return SyncResult("skipped")
    previous_state = calendar.state
    if calendar.last_failure_code == failure.code:
        calendar.failure_count += 1
    else:
        calendar.failure_count = 1
        calendar.first_failed_at = now
    calendar.last_failure_code = failure.code
    retry_in: float | None = None
    if _should_disconnect(calendar, failure, now):
        change_state(calendar, CalendarState.DISCONNECTED, failure.code, now)
    elif calendar.state == CalendarState.CONNECTED and _retry_allowed(failure, calendar.failure_count):
        retry_in = backoff_seconds(failure, calendar.failure_count)
    following: datetime | None  # when the next sync is due (webapp.sync.dispatch)
    if calendar.state == CalendarState.DISCONNECTED:
        calendar.connection_failure_data = failure_data(
            failure, now=now, attempts=calendar.failure_count, first_failed_at=calendar.first_failed_at
        )
        calendar.next_attempt_at = following = None  # until new credentials arrive
    elif retry_in is not None:
        calendar.next_attempt_at = following = now + timedelta(seconds=retry_in)
    else:
        calendar.next_attempt_at = None
        following = dispatch.next_interval(now, dispatch.cycle_start(calendar))
    dispatch.finish(calendar, now, following)
    db.session.add(
        started.attempt(
            calendar.id,
            outcome="failure",
            error_code=failure.code,
            error_message=failure.message[:1000],
        )
    )
    # The outbox rows commit with the change that causes them (after the failure data is set).
    deliveries = webhooks.record(calendar, STATE_CHANGE, now=now) if calendar.state != previous_state else []
    db.session.commit()
    webhooks.enqueue_deliveries(deliveries)
    record_sync_attempt(calendar, "failure", failure.code, started)  # the one line per attempt, and the counters
    return SyncResult("failure", error_code=failure.code)


def _retry_allowed(failure: Failure, attempt: int) -> bool:
    if failure.code in ("credentials_undecryptable", "credentials_missing", "request_invalid"):
        return False
    if failure.disconnects == "confirm":
        return True  # keep gathering evidence until the confirmation rule decides
    return failure.retryable and attempt <= int(current_app.config["SYNC_TRANSIENT_RETRIES"])
