"""Events carry their serialized API document; rows written without one are still served right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import insert, select

from webapp.extensions import db
from webapp.models import Calendar, CalendarEvent, Project

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _event_row(calendar: Calendar, n: int) -> dict[str, Any]:
    return {
        "object_id": f"evt_{n:016d}",
        "project_id": calendar.project_id,
        "calendar_id": calendar.id,
        "platform_uuid": f"p{n}",
        "name": f"Meeting {n}",
        "start_time": START + timedelta(hours=n),
        "end_time": START + timedelta(hours=n, minutes=30),
        "is_deleted": False,
        "attendees": [{"email": "a@example.com", "name": None}],
        "raw": {"id": f"p{n}", "description": "é" * 3},
        "content_hash": "x",
        "created_at": START,
        "updated_at": START + timedelta(seconds=n),
    }


def _expected(calendar: Calendar, row: dict[str, Any]) -> dict[str, Any]:
    def iso(value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    return {
        "id": row["object_id"],
        "calendar_id": calendar.object_id,
        "platform_uuid": row["platform_uuid"],
        "meeting_url": None,
        "start_time": iso(row["start_time"]),
        "end_time": iso(row["end_time"]),
        "is_deleted": False,
        "attendees": row["attendees"],
        "ical_uid": None,
        "name": row["name"],
        "raw": row["raw"],
        "bots": [],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def test_orm_writes_store_the_document_and_bulk_rows_are_built_on_read(
    client: FlaskClient, auth: dict[str, str], project: Project, make_calendar: Any
) -> None:
    calendar = db.session.scalar(select(Calendar).where(Calendar.object_id == make_calendar()["id"]))
    assert calendar is not None
    orm_row, bulk_row = _event_row(calendar, 1), _event_row(calendar, 2)
    db.session.add(CalendarEvent(**orm_row))
    db.session.execute(insert(CalendarEvent), [bulk_row])  # no document, like rows from before it existed
    db.session.commit()
    stored = dict(db.session.execute(select(CalendarEvent.object_id, CalendarEvent.api_json)).all())
    assert stored[orm_row["object_id"]] is not None and stored[bulk_row["object_id"]] is None

    listed = client.get(f"/api/v1/calendar_events?calendar_id={calendar.object_id}", headers=auth).get_json()
    assert listed["results"] == [_expected(calendar, bulk_row), _expected(calendar, orm_row)]
    for row in (orm_row, bulk_row):
        one = client.get(f"/api/v1/calendar_events/{row['object_id']}", headers=auth)
        assert one.status_code == 200 and one.get_json() == _expected(calendar, row)


def test_the_document_follows_every_change(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    calendar = db.session.scalar(select(Calendar).where(Calendar.object_id == make_calendar()["id"]))
    assert calendar is not None
    row = _event_row(calendar, 3)
    event = CalendarEvent(**row)
    db.session.add(event)
    db.session.commit()
    event.is_deleted = True
    event.updated_at = START + timedelta(days=1)
    db.session.commit()
    body = client.get(f"/api/v1/calendar_events/{row['object_id']}", headers=auth).get_json()
    assert body["is_deleted"] is True and body["updated_at"] == "2026-03-03T09:00:00.000000Z"
