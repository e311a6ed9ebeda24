"""The calendars list walks the (project_id, id) index on PostgreSQL, whatever other projects hold.

A project's calendars are usually older than another project's newest ones. Walking the primary
key backwards would then skip all of those on every first page (the planner assumes the project's
rows are spread evenly over the ids); only the (project_id, id) index keeps a page's cost flat.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, text

from tests.conftest import requires_postgres
from webapp.calendars import queries
from webapp.extensions import db
from webapp.models import Calendar, Project
from webapp.projects import service as projects

pytestmark = requires_postgres


def _calendars(project_id: int, count: int, prefix: str) -> list[dict[str, Any]]:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        {
            "object_id": f"cal_{prefix}{i:012d}",
            "project_id": project_id,
            "platform": "google",
            "client_id": "client",
            "client_secret_ciphertext": b"x",
            "refresh_token_ciphertext": b"x",
            "deduplication_key": f"{prefix}-{i}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]


def _plan(statement: Any, **params: Any) -> str:
    sql = statement.params(**params).compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        # Only index walks compete: is there one that yields the page in order?
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET enable_bitmapscan = off"))
        conn.execute(text("SET enable_sort = off"))
        plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    return json.dumps(plan)


@pytest.fixture
def crowded(app: Flask, project: Project) -> int:
    """The project's 4,000 calendars, then 3,000 newer ones of another project; statistics fresh."""
    other, _ = projects.create_project(name="Busy neighbour")
    db.session.execute(insert(Calendar), _calendars(project.id, 4000, "mine"))
    db.session.execute(insert(Calendar), _calendars(other.id, 3000, "theirs"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE calendar"))
    return project.id


@pytest.mark.parametrize("filters", [frozenset(), frozenset({"state"}), frozenset({"platform", "state"})])
def test_every_page_walks_the_project_index(crowded: int, filters: frozenset[str]) -> None:
    statements = queries._list_statements(filters, 25)
    values = {"project_id": crowded, "state": "connected", "platform": "google"}
    for statement, cursor in (
        (statements.first, {}),
        (statements.after, {"cursor_id": 10**9}),
        (statements.before, {"cursor_id": 0}),
    ):
        plan = _plan(statement, **values, **cursor)
        assert "ix_calendar_project_id_id" in plan, plan
        assert '"Node Type": "Sort"' not in plan, plan


def test_first_page_is_the_projects_newest(app: Flask, crowded: int) -> None:
    page = queries.list_calendars(project=db.session.get(Project, crowded), cursor=None, page_size=25)
    ids = [json.loads(row.document)["id"] for row in page.items]
    assert ids == [f"cal_mine{i:012d}" for i in range(3999, 3974, -1)]


def test_first_page_keeps_one_generic_plan(app: Flask, project: Project) -> None:
    """A project holding most of a large table: the prepared first-page statement must settle on a
    generic plan, not be planned again at every run (as with a bound LIMIT, or "BETWEEN p AND p",
    whose generic estimates PostgreSQL finds worse than a custom plan from about 50,000 rows on)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            text(
                "INSERT INTO calendar (object_id, project_id, platform, client_id, client_secret_ciphertext,"
                " refresh_token_ciphertext, is_primary, state, deduplication_key, created_at, updated_at,"
                " failure_count) SELECT 'cal_plan' || lpad(n::text, 12, '0'), :project, 'google', 'c', 'x', 'x',"
                " false, 'connected', 'k' || n, now(), now(), 0 FROM generate_series(1, 70000) AS n"
            ),
            {"project": project.id},
        )
        conn.execute(text("ANALYZE calendar"))
    statement = queries._list_statements(frozenset(), 25).first
    with db.engine.connect() as conn:
        conn.execute(text("DEALLOCATE ALL"))
        for _ in range(15):  # psycopg prepares on the 5th run; PostgreSQL decides after 5 custom plans
            assert len(conn.execute(statement, {"project_id": project.id}).all()) == 26
        generic, custom = conn.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%ORDER BY calendar.project_id DESC%'"
            )
        ).one()
        conn.rollback()
    assert generic > 0 and custom <= 5, (generic, custom)
