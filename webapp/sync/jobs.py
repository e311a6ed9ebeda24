"""``sync_calendar``: the one use case that syncs a calendar, and the query that says which are due."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import and_, or_, select, update

from webapp import crypto
from webapp.extensions import db
from webapp.models import Calendar, CalendarState
from webapp.observability.metrics import record_sync_attempt
from webapp.providers import Provider, get_provider
from webapp.providers.base import ProviderFailure, TokenSet, Window
from webapp.providers.failures import Failure, classify_google_token_error, failure_for
from webapp.push import service as push
from webapp.sync import health
from webapp.sync.dispatch import REDISPATCH_AFTER
from webapp.sync.events import apply_events
from webapp.sync.result import Stopwatch, SyncResult
from webapp.webhooks import service as webhooks

log = logging.getLogger(__name__)

# Google codes that mean "this refresh token no longer works" (subject to the race check).
DEAD_TOKEN_CODES = frozenset({"token_revoked", "token_expired_testing_mode", "token_expired_inactivity"})


def sync_window(now: datetime) -> Window:
    config = current_app.config
    return Window(
        start=now - timedelta(days=config["SYNC_WINDOW_PAST_DAYS"]),
        end=now + timedelta(days=config["SYNC_WINDOW_FUTURE_DAYS"]),
    )


def due_calendar_ids(now: datetime, limit: int = 1000) -> list[int]:
    """Calendars to sync now: connected ones not synced within the interval, and any with a request.

    Disconnected calendars wait for new credentials (a PATCH or reconnect sets ``sync_requested_at``).
    """
    stale_before = now - timedelta(minutes=current_app.config["SYNC_INTERVAL_MINUTES"])
    wanted = or_(
        Calendar.sync_requested_at <= now,
        and_(
            Calendar.state == CalendarState.CONNECTED.value,
            or_(Calendar.last_attempted_sync_at.is_(None), Calendar.last_attempted_sync_at < stale_before),
        ),
    )
    query = (
        select(Calendar.id)
        .where(
            wanted,
            or_(Calendar.next_attempt_at.is_(None), Calendar.next_attempt_at <= now),
            or_(Calendar.lease_expires_at.is_(None), Calendar.lease_expires_at < now),
            # Not just queued by the dispatcher (webapp.sync.dispatch), unless that was long ago.
            or_(Calendar.sync_dispatched_at.is_(None), Calendar.sync_dispatched_at < now - REDISPATCH_AFTER),
        )
        .order_by(Calendar.last_attempted_sync_at.asc().nulls_first(), Calendar.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def sync_calendar(calendar_id: int, *, now: datetime) -> SyncResult:
    """Sync one calendar under its lease; a calendar already being synced elsewhere is skipped."""
    lease = _acquire_lease(calendar_id, now)
    if lease is None:
        # Busy: a request that is still pending is dispatched again once the lease is free.
        db.session.execute(update(Calendar).where(Calendar.id == calendar_id).values(sync_dispatched_at=None))
        db.session.commit()
        return SyncResult("skipped")
    try:
        return _sync_leased(calendar_id, now)
    finally:
        db.session.rollback()
        db.session.execute(
            update(Calendar)
            .where(Calendar.id == calendar_id, Calendar.lease_token == lease)
            .values(lease_token=None, lease_expires_at=None)
        )
        db.session.commit()


def _acquire_lease(calendar_id: int, now: datetime) -> str | None:
    """An atomic conditional UPDATE: works across processes and machines on SQLite and PostgreSQL."""
    token = secrets.token_hex(16)
    expires = now + timedelta(seconds=current_app.config["SYNC_LEASE_SECONDS"])
    result = db.session.execute(
        update(Calendar)
        .where(
            Calendar.id == calendar_id,
            or_(Calendar.lease_expires_at.is_(None), Calendar.lease_expires_at < now),
        )
        .values(lease_token=token, lease_expires_at=expires)
    )
    db.session.commit()
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


def _sync_leased(calendar_id: int, now: datetime) -> SyncResult:
    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None:
        return SyncResult("skipped")
    started = Stopwatch.start()
    calendar.last_attempted_sync_at = now
    if calendar.sync_requested_at is not None and calendar.sync_requested_at <= now:
        calendar.sync_requested_at = None  # this sync answers the request
        calendar.sync_dispatched_at = None
    db.session.commit()
    try:
        secret = crypto.decrypt(calendar.client_secret_ciphertext)
        refresh_token = crypto.decrypt(calendar.refresh_token_ciphertext)
    except crypto.InvalidToken:
        return health.record_failure(
            calendar_id, failure_for("credentials_undecryptable", calendar.platform), now, started
        )
    if not secret or not refresh_token:
        return health.record_failure(calendar_id, failure_for("credentials_missing", calendar.platform), now, started)
    with requests.Session() as session:
        provider = get_provider(calendar.platform, session)
        try:
            tokens = _refresh(calendar, provider, secret, refresh_token, now)
        except ProviderFailure as exc:
            return _failed(calendar_id, exc, now, started, provider, None)
        try:
            return _sync_with_provider(calendar, provider, tokens, now, started)
        except ProviderFailure as exc:
            return _failed(calendar_id, exc, now, started, provider, tokens.access_token)


def _failed(
    calendar_id: int,
    exc: ProviderFailure,
    now: datetime,
    started: Stopwatch,
    provider: Provider,
    access_token: str | None,
) -> SyncResult:
    """Record the failure; a calendar it disconnects also loses its push channels."""
    db.session.rollback()
    result = health.record_failure(calendar_id, exc.failure, now, started)
    calendar = db.session.get(Calendar, calendar_id)
    if calendar is not None and calendar.state == CalendarState.DISCONNECTED.value:
        push.stop_channels(calendar, provider, access_token)
        db.session.commit()
    return result


def _sync_with_provider(
    calendar: Calendar, provider: Provider, tokens: TokenSet, now: datetime, started: Stopwatch
) -> SyncResult:
    calls = 1  # the refresh
    if calendar.is_primary and calendar.platform_uuid is None:
        calendar.platform_uuid = provider.primary_calendar_id(tokens.access_token)
        calls += 1
    window = sync_window(now)
    listing = provider.list_events(
        access_token=tokens.access_token,
        calendar_id=None if calendar.is_primary else calendar.platform_uuid,
        sync_state=calendar.sync_state,
        window=window,
    )
    counts = apply_events(calendar, listing, window, now)
    previous_state = calendar.state
    calendar.sync_state = listing.sync_state
    calendar.last_successful_sync_at = now
    health.mark_healthy(calendar, now)
    push.ensure_channel(calendar, provider, tokens.access_token, now)
    db.session.add(
        started.attempt(
            calendar.id,
            outcome="success",
            full_resync=listing.complete,
            created_count=counts.created,
            updated_count=counts.updated,
            deleted_count=counts.deleted,
        )
    )
    deliveries = []
    if calendar.state != previous_state:
        deliveries += webhooks.record(calendar, health.STATE_CHANGE, now=now)
    if counts.changed:  # never after a sync that changed nothing
        deliveries += webhooks.record(calendar, health.EVENTS_UPDATE, now=now)
    db.session.commit()
    webhooks.enqueue_deliveries(deliveries)
    record_sync_attempt(calendar, "success", None, started)  # the one line per attempt, and the counters
    return SyncResult("success", counts.created, counts.updated, counts.deleted, provider_calls=calls + listing.calls)


def _refresh(calendar: Calendar, provider: Provider, secret: str, refresh_token: str, now: datetime) -> TokenSet:
    """Refresh the access token; a rotated refresh token is stored in its own commit before anything else.

    Before believing a dead-token answer, re-read the stored token: if it changed meanwhile (new
    credentials arrived), try once more with it.
    """
    try:
        tokens = provider.refresh(client_id=calendar.client_id, client_secret=secret, refresh_token=refresh_token)
    except ProviderFailure as exc:
        if exc.failure.code not in DEAD_TOKEN_CODES:
            raise
        db.session.refresh(calendar)
        current = crypto.decrypt(calendar.refresh_token_ciphertext)
        if current == refresh_token:
            raise ProviderFailure(_testing_mode_check(calendar, exc.failure, now)) from None
        refresh_token = current
        tokens = provider.refresh(client_id=calendar.client_id, client_secret=secret, refresh_token=refresh_token)
    if tokens.refresh_token and tokens.refresh_token != refresh_token:
        calendar.refresh_token_ciphertext = crypto.encrypt(tokens.refresh_token)
        calendar.refresh_token_issued_at = now
    calendar.last_refreshed_at = now
    db.session.commit()
    return tokens


def _testing_mode_check(calendar: Calendar, failure: Failure, now: datetime) -> Failure:
    """A Google token dying about 7 days after issue is the signature of an app left in Testing mode."""
    issued = calendar.refresh_token_issued_at
    if calendar.platform != "google" or failure.code != "token_revoked" or issued is None:
        return failure
    age = now - issued
    if timedelta(days=6) <= age <= timedelta(days=8):
        return classify_google_token_error(
            failure.http_status, failure.provider_error, None, testing_mode_suspected=True
        )
    return failure
