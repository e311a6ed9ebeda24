"""Models to JSON-ready dicts, in the contract's key order."""

from __future__ import annotations

from typing import Any

from webapp.models import Calendar
from webapp.timestamps import iso

__all__ = ["calendar_json", "iso"]


def calendar_json(calendar: Calendar) -> dict[str, Any]:
    """The calendar object of a Calendar just written; never any secret. Reads get the same object
    rendered by the database (``calendars.queries.CalendarDocument``; a test pins them equal)."""
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
