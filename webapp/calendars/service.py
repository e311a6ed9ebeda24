"""Calendar use cases of the API, the consent flow and the dashboard: create, update, sync now, delete.

Rows are created and deleted only here. Other writers keep their own columns: the sync
(``webapp.sync.jobs``: lease, sync cursor, refresh bookkeeping; ``webapp.sync.health``: state and
failures; ``webapp.sync.dispatch``: when the next sync is due and queued). The credential columns
are written only by ``webapp.calendars.credentials.write_credentials``, for this module, the sync's
token refresh and ``flask crypto rotate``.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from webapp import crypto
from webapp.calendars.credentials import checked_refresh_token, write_credentials
from webapp.db import autocommit
from webapp.errors import DuplicateDeduplicationKey, FieldErrors
from webapp.extensions import db, utcnow
from webapp.models import Calendar, CalendarState, Platform, ProjectScope
from webapp.models.ids import new_object_id
from webapp.push import deletion as push_deletion

DEDUPLICATION_CONSTRAINT = "uq_calendar_project_id_deduplication_key"
_CALENDAR_TABLE = cast(Table, Calendar.__table__)
_INSERT_CALENDAR = insert(_CALENDAR_TABLE).returning(_CALENDAR_TABLE.c.id)
_CREDENTIAL_COLUMNS = (
    "client_secret_ciphertext",
    "refresh_token_ciphertext",
    "refresh_token_issued_at",
    "access_token_ciphertext",
    "access_token_expires_at",
)


def create_calendar(
    *,
    project: ProjectScope,
    platform: Platform,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    platform_uuid: str | None = None,
    metadata: dict[str, str] | None = None,
    deduplication_key: str | None = None,
    validate: bool = False,
    commit: bool = True,
) -> Calendar:
    """Create a connected calendar with its first sync requested in the same commit.

    With *validate*, the provider checks the credentials first and nothing is stored if it refuses.
    With ``commit=False`` the row is written in the caller's transaction (the consent flow commits it
    together with its session's completion); after a ``DuplicateDeduplicationKey`` the caller must
    roll that transaction back.

    :raises DuplicateDeduplicationKey: the key already belongs to a calendar of the project
        (decided by the database's unique constraint, so concurrent creates cannot both win).
    :raises CredentialsRejected: *validate* was set and the provider refused the credentials.
    """
    if validate:
        refresh_token = checked_refresh_token(
            platform=platform, client_id=client_id, client_secret=client_secret, refresh_token=refresh_token
        )
    now = utcnow()
    values: dict[str, Any] = {
        "object_id": new_object_id("cal_"),
        "project_id": project.id,
        "platform": platform,
        "client_id": client_id,
        "platform_uuid": platform_uuid,
        "is_primary": platform_uuid is None,
        "state": CalendarState.CONNECTED,
        "meta": metadata,
        "deduplication_key": deduplication_key,
        "connection_failure_data": None,
        "created_at": now,
        "updated_at": now,
        "last_successful_sync_at": None,
        "last_attempted_sync_at": None,
        "next_sync_at": now,
        "failure_count": 0,
    }
    calendar = Calendar(**values)
    write_credentials(calendar, now=now, client_secret=client_secret, refresh_token=refresh_token)
    # One INSERT straight to the table, committed on its own (the request's autocommit connection,
    # ``webapp.db.autocommit``): one round trip, where the ORM's unit of work would add BEGIN and COMMIT
    # round trips and a third of a create's CPU. The object is then attached as if it had been
    # loaded, for callers that go on using it; every attribute the API shows is set, so none is
    # read back.
    row = {**values, **{name: getattr(calendar, name) for name in _CREDENTIAL_COLUMNS}, "metadata": values.pop("meta")}
    try:
        if commit:
            calendar_id = autocommit.connection().execute(_INSERT_CALENDAR, row).scalar_one()
        else:
            calendar_id = db.session.execute(_INSERT_CALENDAR, row).scalar_one()
    except IntegrityError as exc:
        if deduplication_key is not None and _is_deduplication_conflict(exc):
            raise DuplicateDeduplicationKey() from None
        raise
    calendar.id = calendar_id
    make_transient_to_detached(calendar)
    db.session.add(calendar)
    return calendar


def update_calendar(
    *,
    calendar: Calendar,
    client_secret: str | None = None,
    refresh_token: str | None = None,
    metadata: dict[str, str] | None = None,
    validate: bool = False,
    commit: bool = True,
) -> Calendar:
    """Apply the given changes (None = unchanged) and request a sync; new credentials are re-encrypted.

    A disconnected calendar stays disconnected until that sync succeeds. With *validate*, the
    provider checks the resulting credentials first and nothing changes if it refuses. With
    ``commit=False`` the changes are only flushed, for the caller to commit.

    :raises CredentialsRejected: *validate* was set and the provider refused the credentials.
    """
    if validate:
        refresh_token = checked_refresh_token(
            platform=calendar.platform,
            client_id=calendar.client_id,
            client_secret=client_secret or _stored(calendar.client_secret_ciphertext, "client_secret"),
            refresh_token=refresh_token or _stored(calendar.refresh_token_ciphertext, "refresh_token"),
        )
    now = utcnow()
    write_credentials(calendar, now=now, client_secret=client_secret, refresh_token=refresh_token)
    if metadata is not None:
        calendar.meta = metadata
    calendar.updated_at = now
    calendar.next_sync_at = now
    calendar.next_attempt_at = None  # new credentials deserve an attempt now, not after a backoff
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return calendar


def reconnect_calendar(
    *,
    calendar: Calendar,
    client_secret: str,
    refresh_token: str,
    metadata: dict[str, str] | None = None,
) -> Calendar:
    """New credentials from a consent the end user has just given, in the caller's transaction.

    Unlike a PATCH (credentials of unknown worth, ``connected`` only after a sync succeeds), the
    provider has just issued this refresh token with the calendar scope, as for a created calendar:
    the calendar is ``connected`` at once, with its state change and ``calendar.state_change``
    webhooks recorded in the same transaction, so the page and the redirect that follow tell the
    end user what they achieved. The sync requested with it confirms it (or disconnects again).
    The caller commits, then calls ``webhooks.enqueue_recorded()``.
    """
    from webapp.sync import health  # the sync engine's state rules (imported late: it imports a lot)
    from webapp.webhooks import service as webhooks

    update_calendar(
        calendar=calendar, client_secret=client_secret, refresh_token=refresh_token, metadata=metadata, commit=False
    )
    if calendar.state != CalendarState.CONNECTED:
        now = utcnow()
        health.mark_healthy(calendar, now)
        webhooks.record(calendar, health.STATE_CHANGE, now=now)
    db.session.flush()
    return calendar


def request_sync(*, calendar: Calendar) -> Calendar:
    """Ask for a sync now: the worker's dispatcher queues it within a second (webapp.sync.dispatch)."""
    calendar.next_sync_at = utcnow()
    calendar.next_attempt_at = None
    db.session.commit()
    return calendar


def _stored(ciphertext: bytes, field: str) -> str:
    """A stored secret, or a field error asking for a new one when it can no longer be decrypted."""
    try:
        return crypto.decrypt(ciphertext)
    except crypto.InvalidToken:
        raise FieldErrors({field: ["The stored value can no longer be decrypted; send a new one."]}) from None


def delete_calendar(*, calendar: Calendar) -> None:
    """Delete the calendar (its events go with it); its push channels are stopped afterwards, by the
    worker's periodic ``push.stop_channels``."""
    push_deletion.queue_stops_for_deleted(calendar)
    db.session.delete(calendar)
    db.session.commit()


def _is_deduplication_conflict(exc: IntegrityError) -> bool:
    """PostgreSQL names the constraint; SQLite names the columns."""
    diag: Any = getattr(exc.orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return bool(diag.constraint_name == DEDUPLICATION_CONSTRAINT)
    return "calendar.deduplication_key" in str(exc.orig)
