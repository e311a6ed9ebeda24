"""Apply a provider listing to stored events: upsert by provider id, soft-delete, honest updated_at."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import Calendar, CalendarEvent
from webapp.providers.base import EventData, EventListing, Window

CHUNK = 500


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


def content_hash(event: EventData) -> str:
    """Digest of everything the API shows; ``updated_at`` moves only when it changes."""
    payload = [
        event.name,
        event.start_time.isoformat() if event.start_time else None,
        event.end_time.isoformat() if event.end_time else None,
        event.is_deleted,
        event.attendees,
        event.ical_uid,
        event.meeting_url,
        event.raw,
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _stored(calendar: Calendar, platform_uuids: Iterable[str]) -> dict[str, CalendarEvent]:
    """The stored events among *platform_uuids* (one query per 500 ids; none for an empty round)."""
    found: dict[str, CalendarEvent] = {}
    for chunk in _chunks(sorted(set(platform_uuids))):
        query = select(CalendarEvent).where(
            CalendarEvent.calendar_id == calendar.id, CalendarEvent.platform_uuid.in_(chunk)
        )
        found.update((event.platform_uuid, event) for event in db.session.scalars(query))
    return found


def apply_events(calendar: Calendar, listing: EventListing, window: Window, now: datetime) -> Counts:
    """Upsert the listing's events; on a complete listing, soft-delete stored window events it lacks.

    A removal of an event never stored, or an event outside the window never stored, is a no-op;
    the same event may appear several times in a round (the last occurrence wins).
    """
    counts = Counts()
    stored = _stored(calendar, (event.platform_uuid for event in listing.events))
    for data in listing.events:
        event = stored.get(data.platform_uuid)
        if data.is_deleted:
            if event is not None and not event.is_deleted:
                event.is_deleted = True
                event.content_hash = content_hash(data)
                event.updated_at = now
                counts.deleted += 1
            continue
        if data.start_time is None or data.end_time is None:
            continue
        digest = content_hash(data)
        if event is None:
            if not window.contains(data.start_time, data.end_time):
                continue
            event = CalendarEvent(project_id=calendar.project_id, calendar_id=calendar.id, created_at=now)
            stored[data.platform_uuid] = event
            _fill(event, data, digest, now)
            db.session.add(event)
            counts.created += 1
        elif event.content_hash != digest:
            _fill(event, data, digest, now)
            counts.updated += 1
    if listing.complete:
        counts.deleted += _delete_missing(calendar, {e.platform_uuid for e in listing.events}, window, now)
    return counts


def _fill(event: CalendarEvent, data: EventData, digest: str, now: datetime) -> None:
    event.platform_uuid = data.platform_uuid
    event.name = data.name
    event.start_time = data.start_time  # type: ignore[assignment]
    event.end_time = data.end_time  # type: ignore[assignment]
    event.is_deleted = False
    event.attendees = data.attendees
    event.ical_uid = data.ical_uid
    event.meeting_url = data.meeting_url
    event.raw = data.raw
    event.content_hash = digest
    event.updated_at = now


def _delete_missing(calendar: Calendar, seen: set[str], window: Window, now: datetime) -> int:
    """Stored live events inside the window that a full listing no longer has are gone at the provider.

    Only ids are read back (not whole rows, whose JSON the listing has just written), and the gone
    ones are marked in one UPDATE: on a first sync nothing is gone and nothing is loaded twice.
    """
    query = select(CalendarEvent.id, CalendarEvent.platform_uuid).where(
        CalendarEvent.calendar_id == calendar.id,
        CalendarEvent.is_deleted.is_(False),
        CalendarEvent.end_time > window.start,
        CalendarEvent.start_time < window.end,
    )
    gone = [event_id for event_id, platform_uuid in db.session.execute(query) if platform_uuid not in seen]
    for chunk in range(0, len(gone), CHUNK):
        db.session.execute(
            update(CalendarEvent)
            .where(CalendarEvent.id.in_(gone[chunk : chunk + CHUNK]))
            .values(is_deleted=True, updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
    return len(gone)
