"""SQL statements per API request, pinned so a regression (an extra query, an N+1) shows in CI.

Issue 9: the API-key lookup plus one query for a detail read or a list page, whatever the page
holds. Writes are pinned at their measured small constants. The session is removed before each
request, as it is between requests in production (Flask-SQLAlchemy removes it at teardown), so
nothing is served from an identity map that a real worker would not have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from werkzeug.test import TestResponse

from webapp.extensions import db
from webapp.models import Calendar, CalendarEvent, Project

KEY_LOOKUP = 1  # the API key, by its hash, joined to its project
DETAIL = KEY_LOOKUP + 1
LIST_PAGE = KEY_LOOKUP + 1
# Key lookup and the INSERT (... RETURNING id); objects are not expired on commit, so no reload.
CREATE = KEY_LOOKUP + 1
# Key lookup, the calendar, the UPDATE.
PATCH = KEY_LOOKUP + 2
# Key lookup, the calendar, its push channels (to stop them later), the DELETE (events go by ON DELETE CASCADE).
DELETE = KEY_LOOKUP + 3

Counter = Callable[..., "Counted"]


class Counted:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.response: TestResponse | None = None

    def __len__(self) -> int:
        return len(self.statements)

    def report(self) -> str:
        return f"{len(self.statements)} statements:\n" + "\n---\n".join(self.statements)


@pytest.fixture
def request_statements(app: Flask, client: FlaskClient) -> Iterator[Callable[..., Counted]]:
    """``request_statements(method, url, **kwargs)``: the response and the statements it ran."""

    @contextmanager
    def listening(counted: Counted) -> Iterator[None]:
        def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            counted.statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            yield
        finally:
            event.remove(db.engine, "before_cursor_execute", record)

    def run(method: str, url: str, **kwargs: Any) -> Counted:
        db.session.remove()  # a fresh session, as a worker has at the start of every request
        counted = Counted()
        with listening(counted):
            counted.response = client.open(url, method=method, **kwargs)
        return counted

    yield run


def _ok(counted: Counted, status: int = 200) -> Any:
    assert counted.response is not None
    assert counted.response.status_code == status, counted.response.get_data(as_text=True)
    return counted.response.get_json() if counted.response.data else None


def _project_id(project: Project) -> int:
    return db.session.scalar(select(Project.id).where(Project.object_id == project.object_id)) or 0


def _add_events(project_id: int, calendar_object_id: str, count: int, start: int = 0) -> None:
    calendar_id = db.session.scalar(select(Calendar.id).where(Calendar.object_id == calendar_object_id))
    assert calendar_id is not None
    base = datetime(2025, 1, 13, 10, 30, tzinfo=UTC)
    db.session.add_all(
        CalendarEvent(
            project_id=project_id,
            calendar_id=calendar_id,
            platform_uuid=f"{calendar_object_id}-event-{i}",
            start_time=base + timedelta(hours=i),
            end_time=base + timedelta(hours=i, minutes=30),
            content_hash=f"{i:064x}",
        )
        for i in range(start, start + count)
    )
    db.session.commit()


def test_get_calendar_is_key_lookup_plus_one(
    request_statements: Counter, auth: dict[str, str], make_calendar: Any
) -> None:
    calendar = make_calendar()
    counted = request_statements("GET", f"/api/v1/calendars/{calendar['id']}", headers=auth)
    assert _ok(counted)["id"] == calendar["id"]
    assert len(counted) == DETAIL, counted.report()


def test_unknown_calendar_is_key_lookup_plus_one(request_statements: Counter, auth: dict[str, str]) -> None:
    counted = request_statements("GET", "/api/v1/calendars/cal_0000000000000000", headers=auth)
    _ok(counted, 404)
    assert len(counted) == DETAIL, counted.report()


def test_list_pages_are_two_statements(request_statements: Counter, auth: dict[str, str], make_calendar: Any) -> None:
    for i in range(30):
        make_calendar(deduplication_key=f"k{i}")
    first = request_statements("GET", "/api/v1/calendars", headers=auth)
    body = _ok(first)
    assert len(body["results"]) == 25 and body["next"]
    assert len(first) == LIST_PAGE, first.report()

    second = request_statements("GET", body["next"], headers=auth)
    assert len(_ok(second)["results"]) == 5
    assert len(second) == LIST_PAGE, second.report()

    back = request_statements("GET", _ok(second)["previous"], headers=auth)
    assert len(_ok(back)["results"]) == 25
    assert len(back) == LIST_PAGE, back.report()


def test_deduplication_key_filter_is_two_statements(
    request_statements: Counter, auth: dict[str, str], make_calendar: Any
) -> None:
    for i in range(30):
        make_calendar(deduplication_key=f"k{i}")
    counted = request_statements("GET", "/api/v1/calendars?deduplication_key=k7", headers=auth)
    assert [c["deduplication_key"] for c in _ok(counted)["results"]] == ["k7"]
    assert len(counted) == LIST_PAGE, counted.report()


def test_create_calendar_is_a_small_constant(
    request_statements: Counter, auth: dict[str, str], make_calendar: Any
) -> None:
    make_calendar(deduplication_key="existing")  # not the first write of the process
    body = {
        "platform": "google",
        "client_id": "123456789-abc.apps.googleusercontent.com",
        "client_secret": "GOCSPX-secret-value",
        "refresh_token": "1//04refresh-token-value",
        "metadata": {"tenant_id": "1234567890"},
        "deduplication_key": "new-key",
    }
    counted = request_statements("POST", "/api/v1/calendars", json=body, headers=auth)
    assert _ok(counted, 201)["deduplication_key"] == "new-key"
    assert len(counted) == CREATE, counted.report()


def test_patch_calendar_is_a_small_constant(
    request_statements: Counter, auth: dict[str, str], make_calendar: Any
) -> None:
    calendar = make_calendar()
    counted = request_statements(
        "PATCH", f"/api/v1/calendars/{calendar['id']}", json={"metadata": {"tenant_id": "42"}}, headers=auth
    )
    assert _ok(counted)["metadata"] == {"tenant_id": "42"}
    assert len(counted) == PATCH, counted.report()


def test_delete_calendar_is_a_small_constant(
    request_statements: Counter, auth: dict[str, str], project: Project, make_calendar: Any
) -> None:
    calendar = make_calendar()
    _add_events(_project_id(project), calendar["id"], 5)  # its events go without being loaded
    counted = request_statements("DELETE", f"/api/v1/calendars/{calendar['id']}", headers=auth)
    _ok(counted)
    assert len(counted) == DELETE, counted.report()


@pytest.mark.parametrize("per_calendar", [3, 40])
def test_events_list_is_two_statements_whatever_the_page_holds(
    request_statements: Counter, auth: dict[str, str], project: Project, make_calendar: Any, per_calendar: int
) -> None:
    first, second = make_calendar(deduplication_key="a"), make_calendar(deduplication_key="b")
    project_id = _project_id(project)
    _add_events(project_id, first["id"], per_calendar)
    _add_events(project_id, second["id"], per_calendar, start=1000)

    filtered = request_statements("GET", f"/api/v1/calendar_events?calendar_id={first['id']}", headers=auth)
    results = _ok(filtered)["results"]
    assert len(results) == per_calendar and {e["calendar_id"] for e in results} == {first["id"]}
    assert len(filtered) == LIST_PAGE, filtered.report()

    # Project-wide: events of both calendars on one page, each showing its calendar's public id.
    everything = request_statements("GET", "/api/v1/calendar_events?ordering=start_time", headers=auth)
    results = _ok(everything)["results"]
    assert len(results) == 2 * per_calendar
    assert {e["calendar_id"] for e in results} == {first["id"], second["id"]}
    assert len(everything) == LIST_PAGE, everything.report()


def test_events_next_page_is_two_statements(
    request_statements: Counter, auth: dict[str, str], project: Project, make_calendar: Any
) -> None:
    calendar = make_calendar()
    _add_events(_project_id(project), calendar["id"], 12)
    first = request_statements("GET", f"/api/v1/calendar_events?calendar_id={calendar['id']}&page_size=5", headers=auth)
    following = request_statements("GET", _ok(first)["next"], headers=auth)
    assert len(_ok(following)["results"]) == 5
    assert len(following) == LIST_PAGE, following.report()
