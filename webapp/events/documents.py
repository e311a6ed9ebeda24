"""The calendar event object of the API, stored with each row (``calendar_event.api_json``).

Lists send the stored text as it is, without decoding and re-encoding provider payloads. The flush
hook below keeps it current on every insert and update; ``create_app`` imports this module, so every
process that writes events (web, worker, CLI, tests) has the hook.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, event, select
from sqlalchemy.orm import object_session
from sqlalchemy.orm.util import identity_key

from webapp.api.objects import CALENDAR_EVENT
from webapp.extensions import utcnow
from webapp.models.calendar import Calendar
from webapp.models.event import CalendarEvent
from webapp.models.ids import new_object_id


def api_document(event: CalendarEvent, calendar_object_id: str) -> dict[str, Any]:
    """The calendar event object of the API contract, in its key order (declared in ``webapp.api.objects``)."""
    return CALENDAR_EVENT.serialize(event, calendar_id=calendar_object_id)


@event.listens_for(CalendarEvent, "before_insert")
@event.listens_for(CalendarEvent, "before_update")
def _serialize_for_the_api(mapper: Any, connection: Connection, target: CalendarEvent) -> None:
    # Column defaults are applied after this hook, so the ones the document shows are set here.
    now = utcnow()
    target.object_id = target.object_id or new_object_id("evt_")
    target.created_at = target.created_at or now
    target.updated_at = target.updated_at or now
    target.is_deleted = bool(target.is_deleted)
    target.attendees = target.attendees if target.attendees is not None else []
    target.raw = target.raw if target.raw is not None else {}
    target.api_json = json.dumps(api_document(target, _calendar_object_id(connection, target)), separators=(",", ":"))


def _calendar_object_id(connection: Connection, target: CalendarEvent) -> str:
    """From the session when the calendar is loaded there (a sync), else one small query."""
    session = object_session(target)
    loaded = session.identity_map.get(identity_key(Calendar, target.calendar_id)) if session else None
    if loaded is not None:
        return str(loaded.object_id)
    return str(connection.execute(select(Calendar.object_id).where(Calendar.id == target.calendar_id)).scalar_one())
