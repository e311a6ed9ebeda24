"""Models to JSON-ready dicts, in the contract's key order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from webapp.models import Calendar, CalendarEvent


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with microseconds and ``Z``."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def calendar_json(calendar: Calendar) -> dict[str, Any]:
    """The calendar object; secrets are never part of it."""
    return {
        "id": calendar.object_id,
        "platform": calendar.platform,
        "client_id": calendar.client_id,
        "platform_uuid": calendar.platform_uuid,
        "state": calendar.state,
        "metadata": calendar.meta,
        "deduplication_key": calendar.deduplication_key,
        "connection_failure_data": calendar.connection_failure_data,
        "created_at": iso(calendar.created_at),
        "updated_at": iso(calendar.updated_at),
        "last_successful_sync_at": iso(calendar.last_successful_sync_at),
        "last_attempted_sync_at": iso(calendar.last_attempted_sync_at),
    }


def event_json(event: CalendarEvent) -> dict[str, Any]:
    """The calendar event object, with the calendar's public id."""
    return {
        "id": event.object_id,
        "calendar_id": event.calendar.object_id,
        "platform_uuid": event.platform_uuid,
        "meeting_url": event.meeting_url,
        "start_time": iso(event.start_time),
        "end_time": iso(event.end_time),
        "is_deleted": event.is_deleted,
        "attendees": event.attendees,
        "ical_uid": event.ical_uid,
        "name": event.name,
        "raw": event.raw,
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }
