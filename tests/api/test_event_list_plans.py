"""Every ordering of the events list walks an index on PostgreSQL, project-wide and per calendar:
a page costs the same for a calendar of ten events and one of a hundred thousand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, text

from tests.conftest import requires_postgres
from webapp.events import queries
from webapp.extensions import db
from webapp.models import Calendar, CalendarEvent, Project

pytestmark = requires_postgres

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def calendar(app: Flask, project: Project) -> Calendar:
    """A calendar of 2,000 events beside one of 2,000 more; statistics fresh."""
    calendars = []
    for name in ("busy", "other"):
        calendar = Calendar(
            project_id=project.id,
            platform="google",
            client_id="client",
            client_secret_ciphertext=b"x",
            refresh_token_ciphertext=b"x",
            deduplication_key=name,
        )
        db.session.add(calendar)
        db.session.flush()
        calendars.append(calendar)
    rows = [
        {
            "object_id": f"evt_plan{c}{i:010d}",
            "project_id": project.id,
            "calendar_id": calendar.id,
            "platform_uuid": f"p{i}",
            "start_time": START + timedelta(hours=i),
            "end_time": START + timedelta(hours=i, minutes=30),
            "is_deleted": False,
            "attendees": [],
            "raw": {},
            "content_hash": "x",
            "created_at": START + timedelta(seconds=i),
            "updated_at": START + timedelta(seconds=i),
        }
        for c, calendar in enumerate(calendars)
        for i in range(2000)
    ]
    db.session.execute(insert(CalendarEvent), rows)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE calendar_event"))
        conn.execute(text("ANALYZE calendar"))
    return calendars[0]


@pytest.mark.parametrize("ordering", sorted(queries.ORDERINGS))
@pytest.mark.parametrize("by_calendar", [False, True], ids=["project", "calendar"])
def test_every_ordering_walks_an_index(calendar: Calendar, ordering: str, by_calendar: bool) -> None:
    filters = frozenset({"calendar_id"}) if by_calendar else frozenset()
    statements = queries._list_statements(filters, ordering)
    values: dict[str, Any] = {"project_id": calendar.project_id, "calendar_id": calendar.object_id, "page_limit": 51}
    sort = queries.ORDERINGS[ordering][0]
    column = sort.key.removesuffix("_time").removesuffix("_at")  # the index names' short form
    index = f"ix_calendar_event_{'calendar' if by_calendar else 'project'}_{column}"
    for statement, cursor in (
        (statements.first, {}),
        (statements.after, {"cursor_value": START + timedelta(hours=1000), "cursor_id": 10**9}),
    ):
        sql = statement.params(**values, **cursor).compile(
            dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        with db.engine.connect() as conn:
            conn.execute(text("SET enable_sort = off"))  # only index walks yield the order without a Sort
            plan = json.dumps(conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one())
        assert '"Node Type": "Sort"' not in plan, (ordering, by_calendar, plan)
        if not cursor:  # past a cursor the planner may pick another walk for the few rows it expects
            assert f'"Index Name": "{index}"' in plan, plan
