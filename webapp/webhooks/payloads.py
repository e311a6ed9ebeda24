"""The Attendee envelope: built once, when the delivery is recorded, and stored as sent."""

from __future__ import annotations

import uuid
from typing import Any

from webapp.models import Calendar
from webapp.timestamps import iso


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def calendar_envelope(calendar: Calendar, trigger: str, idempotency_key: str) -> dict[str, Any]:
    """``{idempotency_key, calendar_id, calendar_deduplication_key, calendar_metadata, trigger, data}``."""
    return {
        "idempotency_key": idempotency_key,
        "calendar_id": calendar.object_id,
        "calendar_deduplication_key": calendar.deduplication_key,
        "calendar_metadata": calendar.meta,
        "trigger": trigger,
        "data": {
            "state": calendar.state,
            "connection_failure_data": calendar.connection_failure_data,
            "last_successful_sync_at": iso(calendar.last_successful_sync_at),
            "last_attempted_sync_at": iso(calendar.last_attempted_sync_at),
        },
    }


def sample_envelope(trigger: str, idempotency_key: str) -> dict[str, Any]:
    """The same shape with no calendar: what ``POST /webhooks/{id}/test`` sends."""
    return {
        "idempotency_key": idempotency_key,
        "calendar_id": None,
        "calendar_deduplication_key": None,
        "calendar_metadata": None,
        "trigger": trigger,
        "data": {
            "state": None,
            "connection_failure_data": None,
            "last_successful_sync_at": None,
            "last_attempted_sync_at": None,
        },
    }
