"""Every list walks its index on PostgreSQL whatever the planner's statistics say.

Right after a tenant's burst of inserts, before autovacuum has analyzed the table, the planner
guesses that a project holds a handful of rows; it once chose a bitmap scan plus a sort of the
whole project for the calendars' first page (6.9 ms instead of 0.04 ms at 10,000 calendars). Here
the tables have no statistics at all (autovacuum off, none kept, no ANALYZE after 10,000 inserts
into one project), and the plans must still be ordered index walks, with no Sort node.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, text

from tests.conftest import requires_postgres
from webapp.calendars import queries as calendar_queries
from webapp.events import queries as event_queries
from webapp.extensions import db
from webapp.models import Calendar, CalendarEvent, Project

pytestmark = requires_postgres

ROWS = 10_000
START = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = ("calendar", "calendar_event")


@pytest.fixture
def unanalyzed(app: Flask, project: Project) -> Iterator[tuple[int, int]]:
    """10,000 calendars and 10,000 events of one project, in tables the planner knows nothing about."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in TABLES:
            conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
            conn.execute(text(f"DELETE FROM pg_statistic WHERE starelid = '{table}'::regclass"))
    now = START
    db.session.execute(
        insert(Calendar),
        [
            {
                "object_id": f"cal_nostats{i:09d}",
                "project_id": project.id,
                "platform": "google",
                "client_id": "client",
                "client_secret_ciphertext": b"x",
                "refresh_token_ciphertext": b"x",
                "deduplication_key": f"k{i}",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(ROWS)
        ],
    )
    calendar_id = db.session.scalar(text("SELECT max(id) FROM calendar"))
    db.session.execute(
        insert(CalendarEvent),
        [
            {
                "object_id": f"evt_nostats{i:09d}",
                "project_id": project.id,
                "calendar_id": calendar_id,
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
            for i in range(ROWS)
        ],
    )
    db.session.commit()
    try:
        yield project.id, calendar_id
    finally:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in TABLES:
                conn.execute(text(f"ALTER TABLE {table} RESET (autovacuum_enabled)"))


def _plan(statement: Any, params: dict[str, Any]) -> str:
    """The plan PostgreSQL really chooses (no planner switch turned off), as JSON text."""
    sql = statement.params(**params).compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        has_stats = conn.execute(
            text(
                "SELECT count(*) FROM pg_statistic WHERE starelid IN ('calendar'::regclass, 'calendar_event'::regclass)"
            )
        ).scalar_one()
        assert has_stats == 0  # nothing analyzed these tables meanwhile
        plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    return json.dumps(plan)


def _nodes(plan: str) -> list[str]:
    """The plan's nodes, outermost first, as "Node Type [index]" (for failure messages)."""
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        found.append(" ".join(filter(None, [node["Node Type"], node.get("Index Name"), node.get("Index Cond")])))
        for child in node.get("Plans", []):
            walk(child)

    walk(json.loads(plan)[0]["Plan"])
    return found


def _pages(statements: Any, cursor_value: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    return [
        ("first", statements.first, {}),
        ("after", statements.after, {"cursor_value": cursor_value, "cursor_id": 5000}),
        ("before", statements.before, {"cursor_value": cursor_value, "cursor_id": 5000}),
    ]


def test_every_list_page_walks_its_index(unanalyzed: tuple[int, int]) -> None:
    """Calendars (each filter combination) and events (each ordering, project-wide and for one
    calendar): first page, next page and previous page. One setup of 20,000 rows for them all."""
    project_id, calendar_id = unanalyzed
    values = {"project_id": project_id, "state": "connected", "platform": "google"}
    for filters in (frozenset(), frozenset({"state"}), frozenset({"platform", "state"})):
        for name, statement, cursor in _pages(calendar_queries._list_statements(filters, 25), None):
            plan = _plan(statement, {**values, **cursor})
            where = (sorted(filters), name, _nodes(plan))
            assert "ix_calendar_project_id_id" in plan, where
            assert '"Node Type": "Sort"' not in plan, where

    calendar_object_id = db.session.scalar(text("SELECT object_id FROM calendar WHERE id = :id"), {"id": calendar_id})
    values = {"project_id": project_id, "calendar_id": calendar_object_id, "page_limit": 101}
    for ordering in event_queries.ORDERINGS:
        for per_calendar in (False, True):
            column = ordering.lstrip("-").removesuffix("_time").removesuffix("_at")
            index = f"ix_calendar_event_{'calendar' if per_calendar else 'project'}_{column}"
            filters = frozenset({"calendar_id"}) if per_calendar else frozenset()
            statements = event_queries._list_statements(filters, ordering)
            for name, statement, cursor in _pages(statements, START + timedelta(hours=5000)):
                plan = _plan(statement, {**values, **cursor})
                where = (ordering, per_calendar, name, _nodes(plan))
                assert index in plan, where
                assert '"Node Type": "Sort"' not in plan, where
