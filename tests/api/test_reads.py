"""API reads use one autocommit connection per request, given back to the pool when the request ends."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import event

from webapp.db import autocommit
from webapp.extensions import db


def test_read_connection_is_released_after_each_request(
    app: Flask, client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    calendar = make_calendar()
    checkins: list[object] = []

    def record(*args: object) -> None:
        checkins.append(args)

    event.listen(db.engine, "checkin", record)
    try:
        for url in ("/api/v1/calendars", f"/api/v1/calendars/{calendar['id']}", "/api/v1/calendar_events"):
            before = len(checkins)
            assert client.get(url, headers=auth).status_code == 200
            assert "read_connection" not in g
            assert len(checkins) > before  # the request's connection went back to the pool
    finally:
        event.remove(db.engine, "checkin", record)


def test_read_connection_is_released_after_an_error(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get("/api/v1/calendars/cal_0000000000000000", headers=auth).status_code == 404
    assert client.get("/api/v1/calendars", headers={"Authorization": "Token wrong"}).status_code == 401
    assert "read_connection" not in g


def test_reads_run_outside_any_transaction(app: Flask) -> None:
    with app.test_request_context("/"):
        conn = autocommit.connection()
        assert conn is autocommit.connection()  # one per request
        assert conn.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
        autocommit.release()
        assert conn.closed
