"""``sync_calendar``: the one use case that syncs a calendar."""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import case, or_, true, update

from webapp import crypto
from webapp.calendars.credentials import write_credentials
from webapp.extensions import db, utcnow
from webapp.models import Calendar, CalendarState, Platform
from webapp.observability.metrics import record_sync_attempt
from webapp.providers import Provider, get_provider
from webapp.providers.base import TokenSet, Window
from webapp.providers.failures import Failure, ProviderFailure, classify_google_token_error, failure_for
from webapp.push import service as push
from webapp.sync import dispatch, health
from webapp.sync.events import apply_events
from webapp.sync.result import Stopwatch, SyncResult
from webapp.webhooks import service as webhooks

log = logging.getLogger(__name__)

# An access token this close to its expiry is refreshed rather than reused.
ACCESS_TOKEN_MARGIN = timedelta(minutes=5)
# Google codes that mean "this refresh token no longer works" (subject to the race check).
DEAD_TOKEN_CODES = frozenset({"token_revoked", "token_expired_testing_mode", "token_expired_inactivity"})


def sync_window(now: datetime) -> Window:
    config = current_app.config
    return Window(
        start=now - timedelta(days=config["SYNC_WINDOW_PAST_DAYS"]),
        end=now + timedelta(days=config["SYNC_WINDOW_FUTURE_DAYS"]),
    )


def sync_if_due(calendar_id: int, *, now: datetime) -> SyncResult:
    """The queued task's entry: the lease is taken only if the calendar is still due, in the same
    statement. A duplicate message (redispatched while the first still waited) or one for a calendar
    being synced does nothing: the end of the sync that runs sets what is due next."""
    lease = _acquire_lease(calendar_id, now, due_only=True)
    if lease is None:
        return SyncResult("skipped")
    return _sync_under_lease(calendar_id, lease, now)


def sync_calendar(calendar_id: int, *, now: datetime) -> SyncResult:
    """Sync one calendar under its lease; a calendar already being synced elsewhere is skipped.

    The lease is short (``SYNC_LEASE_SECONDS``) and renewed by a heartbeat while the sync runs, so a
    long first sync keeps it, and one whose worker died is free again within that time.
    """
    lease = _acquire_lease(calendar_id, now)
    if lease is None:
        # Busy: the calendar stays due, and is dispatched again once the lease is free.
        db.session.execute(update(Calendar).where(Calendar.id == calendar_id).values(sync_dispatched_at=None))
        db.session.commit()
        return SyncResult("skipped")
    return _sync_under_lease(calendar_id, lease, now)


def _sync_under_lease(calendar_id: int, token: str, now: datetime) -> SyncResult:
    lease = HeldLease(calendar_id, token)
    try:
        return _sync_leased(calendar_id, lease, now)
    finally:
        lease.release()


class HeldLease:
    """A running sync's lease: renewed by a heartbeat, and freed in the UPDATE that records a
    successful sync (one statement and one commit fewer per sync), else on its own at the end."""

    def __init__(self, calendar_id: int, token: str) -> None:
        self.calendar_id, self.token = calendar_id, token
        self._heartbeat = LeaseHeartbeat(calendar_id, token)
        self._released = False

    def release_with(self, calendar: Calendar) -> None:
        """Free the lease in *calendar*'s pending UPDATE, if it is still ours; the caller commits,
        then calls ``released``. The heartbeat is told to stop first (joined only after the commit):
        a renewal that lands after the release changes nothing and says nothing."""
        self._heartbeat.stopping()
        mine = Calendar.lease_token == self.token
        calendar.lease_token = case((mine, None), else_=Calendar.lease_token)
        calendar.lease_expires_at = case((mine, None), else_=Calendar.lease_expires_at)

    def released(self) -> None:
        self._released = True

    def release(self) -> None:
        self._heartbeat.stop()
        if not self._released:
            _release_lease(self.calendar_id, self.token)


class LeaseHeartbeat:
    """Renews a calendar's lease every quarter of its length from a thread, on its own connection."""

    def __init__(self, calendar_id: int, token: str) -> None:
        self._engine = db.engine
        self._seconds = float(current_app.config["SYNC_LEASE_SECONDS"])
        self._statement = update(Calendar).where(Calendar.id == calendar_id, Calendar.lease_token == token)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{calendar_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._seconds / 4):
            try:
                with self._engine.begin() as connection:
                    expires = utcnow() + timedelta(seconds=self._seconds)
                    renewed = connection.execute(self._statement.values(lease_expires_at=expires)).rowcount
                if renewed == 0:
                    if not self._stopped.is_set():  # else the sync released it meanwhile, as it ended
                        log.warning("%s: the lease ran out before it could be renewed", self._thread.name)
                    return
            except Exception:  # the next renewal tries again; the sync itself reports real trouble
                log.warning("could not renew a sync lease", exc_info=True)

    def stopping(self) -> None:
        """Renew no more, without waiting: a renewal under way may be blocked on the row lock of the
        very transaction that is about to release the lease (joining here would deadlock it)."""
        self._stopped.set()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def _acquire_lease(calendar_id: int, now: datetime, *, due_only: bool = False) -> str | None:
    """An atomic conditional UPDATE: works across processes and machines on SQLite and PostgreSQL.
    With *due_only*, only a calendar whose next sync is due (``next_sync_at``) is taken."""
    token = secrets.token_hex(16)
    expires = now + timedelta(seconds=current_app.config["SYNC_LEASE_SECONDS"])
    free = or_(Calendar.lease_expires_at.is_(None), Calendar.lease_expires_at < now)
    due = Calendar.next_sync_at <= now if due_only else true()
    result = db.session.execute(
        update(Calendar)
        .where(Calendar.id == calendar_id, free, due)
        .values(lease_token=token, lease_expires_at=expires, last_attempted_sync_at=now)  # one commit for both
    )
    db.session.commit()
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


def _release_lease(calendar_id: int, token: str) -> None:
    """Free the lease; after a lost database connection, try once more on a fresh one."""
    release = (
        update(Calendar)
        .where(Calendar.id == calendar_id, Calendar.lease_token == token)
        .values(lease_token=None, lease_expires_at=None)
    )
    for attempt in (1, 2):
        try:
            db.session.rollback()
            db.session.execute(release)
            db.session.commit()
            return
        except Exception:
            db.session.rollback()
            if attempt == 2:
                log.warning("could not release the lease of calendar %s; it expires by itself", calendar_id)
                return


def _sync_leased(calendar_id: int, lease: HeldLease, now: datetime) -> SyncResult:
    calendar = db.session.get(Calendar, calendar_id)
    if calendar is None:
        return SyncResult("skipped")
    started = Stopwatch.start()  # the lease statement wrote last_attempted_sync_at
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
        access_token = _stored_access_token(calendar, now)
        refreshed = access_token is None
        try:
            if access_token is None:
                access_token = _refresh(calendar, provider, secret, refresh_token, now).access_token
            try:
                return _sync_with_provider(calendar, lease, provider, access_token, now, started, refreshed=refreshed)
            except ProviderFailure as exc:
                if refreshed or exc.failure.http_status != 401:
                    raise
            # The stored access token was refused before its time (revoked, or keys rotated at the
            # provider): refresh once and try once more (providers.md 2.6).
            db.session.rollback()
            access_token = _refresh(calendar, provider, secret, refresh_token, now).access_token
            return _sync_with_provider(calendar, lease, provider, access_token, now, started, refreshed=True)
        except ProviderFailure as exc:
            return _failed(calendar_id, exc, now, started, provider, access_token)


def _stored_access_token(calendar: Calendar, now: datetime) -> str | None:
    """The access token of an earlier refresh while it has a few minutes left: a sync that changes
    nothing then costs one provider call, not two. None when a refresh is due (or it cannot be read)."""
    expires = calendar.access_token_expires_at
    if calendar.access_token_ciphertext is None or expires is None or expires - ACCESS_TOKEN_MARGIN <= now:
        return None
    try:
        return crypto.decrypt(calendar.access_token_ciphertext) or None
    except crypto.InvalidToken:
        return None


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
    if calendar is not None and calendar.state == CalendarState.DISCONNECTED:
        push.stop_channels(calendar, provider, access_token)
        db.session.commit()
    return result


def _sync_with_provider(
    calendar: Calendar,
    lease: HeldLease,
    provider: Provider,
    access_token: str,
    now: datetime,
    started: Stopwatch,
    *,
    refreshed: bool,
) -> SyncResult:
    calls = 1 if refreshed else 0  # the refresh
    cycle = dispatch.cycle_start(calendar)  # before this sync marks the calendar as synced
    if calendar.is_primary and calendar.platform_uuid is None:
        calendar.platform_uuid = provider.primary_calendar_id(access_token)
        calls += 1
    window = sync_window(now)
    listing = provider.list_events(
        access_token=access_token,
        calendar_id=None if calendar.is_primary else calendar.platform_uuid,
        sync_state=calendar.sync_state,
        window=window,
    )
    counts = apply_events(calendar, listing, window, now)
    previous_state = calendar.state
    calendar.sync_state = listing.sync_state
    calendar.last_successful_sync_at = now
    health.mark_healthy(calendar, now)
    push.ensure_channel(calendar, provider, access_token, now)
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
    dispatch.finish(calendar, now, dispatch.next_interval(now, cycle))
    lease.release_with(calendar)
    db.session.commit()
    lease.released()
    webhooks.enqueue_deliveries(deliveries)
    record_sync_attempt(calendar, "success", None, started)  # the one line per attempt, and the counters
    return SyncResult("success", counts.created, counts.updated, counts.deleted, provider_calls=calls + listing.calls)


def _refresh(calendar: Calendar, provider: Provider, secret: str, refresh_token: str, now: datetime) -> TokenSet:
    """Refresh the access token; a rotated refresh token is stored in its own commit before anything else,
    with the new access token (encrypted, like the refresh token) for the syncs of the next hour.

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
    rotated = tokens.refresh_token if tokens.refresh_token and tokens.refresh_token != refresh_token else None
    write_credentials(
        calendar,
        now=now,
        refresh_token=rotated,
        access_token=tokens.access_token,
        access_token_expires_at=now + timedelta(seconds=tokens.expires_in),
    )
    calendar.last_refreshed_at = now
    db.session.commit()
    return tokens


def _testing_mode_check(calendar: Calendar, failure: Failure, now: datetime) -> Failure:
    """A Google token dying about 7 days after issue is the signature of an app left in Testing mode."""
    issued = calendar.refresh_token_issued_at
    if calendar.platform != Platform.GOOGLE or failure.code != "token_revoked" or issued is None:
        return failure
    age = now - issued
    if timedelta(days=6) <= age <= timedelta(days=8):
        return classify_google_token_error(
            failure.http_status, failure.provider_error, None, testing_mode_suspected=True
        )
    return failure
