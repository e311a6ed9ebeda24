"""Database round trips per sync: the worker's cost at scale is mostly statements and commits.

A budget, not a timing: the counts are exact, so a change that adds a statement to every sync
fails here, with the statements listed, before it costs 100,000 calendars a round trip each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, update

from tests.emulation import ALICE, Provider
from tests.sync.conftest import MakeCalendar, at, google_refresh_token, seed_events
from webapp.extensions import db, utcnow
from webapp.models import Calendar, Platform
from webapp.sync import dispatch, jobs


@contextmanager
def counted() -> Iterator[list[str]]:
    seen: list[str] = []

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        words = sql.split()
        verb = words[0]
        table = words[words.index("FROM") + 1] if verb == "SELECT" else words[1 if verb == "UPDATE" else 2]
        seen.append(f"{verb} {table.rstrip(',')}")

    def commit(conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(db.engine, "before_cursor_execute", statement)
    event.listen(db.engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
        event.remove(db.engine, "commit", commit)


def _due_again(calendar_id: int) -> None:
    db.session.execute(update(Calendar).where(Calendar.id == calendar_id).values(next_sync_at=utcnow()))
    db.session.commit()
    db.session.remove()


def test_a_first_sync_and_a_sync_that_changes_nothing_stay_within_their_budgets(
    google: Provider, connect: MakeCalendar
) -> None:
    events = [{"user": ALICE, "summary": f"Meeting {i}", "start": at(2 + i), "end": at(2.5 + i)} for i in range(20)]
    seed_events(google, events)
    calendar_id = connect(Platform.GOOGLE, google_refresh_token(google)).id
    dispatch.claim_due(utcnow())
    db.session.remove()
    with counted() as first:
        assert jobs.sync_if_due(calendar_id, now=utcnow()).outcome == "success"
    _due_again(calendar_id)
    with counted() as again:
        result = jobs.sync_if_due(calendar_id, now=utcnow())
    assert (result.outcome, result.provider_calls) == ("success", 1)  # the stored access token is reused
    # The lease (and the attempt's start), then the calendar and the refreshed tokens in a commit of
    # their own (a rotated refresh token must never be lost), then the events, the attempt, the
    # next due time and the lease's release in one commit.
    assert first.count("COMMIT") == 3, first
    # The lease; then the calendar's new sync state, the attempt, the next due time and the lease's
    # release: nothing else.
    assert again == [
        "UPDATE calendar",
        "COMMIT",
        "SELECT calendar",
        "UPDATE calendar",
        "INSERT sync_attempt",
        "COMMIT",
    ], again
    row = db.session.get(Calendar, calendar_id)
    assert row is not None and row.lease_token is None and row.lease_expires_at is None
    assert row.next_sync_at is not None and row.next_sync_at > utcnow() and row.sync_dispatched_at is None
