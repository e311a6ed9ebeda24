"""Pooled connections: pinged only after sitting idle (a dead one is replaced), set up once when opened."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.conftest import TEST_DATABASE_URL, requires_postgres
from tests.live import served
from webapp.db.pool import ping_idle_connections
from webapp.extensions import db


def _engine(tmp_path: Path, idle_seconds: float) -> tuple[Engine, list[Any]]:
    """A file SQLite engine whose pings are recorded (and can be made to fail)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    ping_idle_connections(engine, idle_seconds)
    pings: list[Any] = []
    real_ping = engine.dialect.do_ping

    def recording_ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        if getattr(engine, "ping_fails", False):
            engine.ping_fails = False  # type: ignore[attr-defined]
            raise sqlite3.OperationalError("server closed the connection unexpectedly")
        return bool(real_ping(dbapi_connection))

    engine.dialect.do_ping = recording_ping  # type: ignore[method-assign]
    return engine, pings


def _dbapi_connection_of_one_query(engine: Engine) -> Any:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
        return conn.connection.dbapi_connection


def test_a_connection_returned_moments_ago_is_not_pinged(tmp_path: Path) -> None:
    engine, pings = _engine(tmp_path, idle_seconds=60)
    first = _dbapi_connection_of_one_query(engine)
    second = _dbapi_connection_of_one_query(engine)
    assert second is first  # the pooled connection was reused ...
    assert pings == []  # ... without a round trip to check it


def test_an_idle_connection_is_pinged_before_reuse(tmp_path: Path) -> None:
    engine, pings = _engine(tmp_path, idle_seconds=0)
    first = _dbapi_connection_of_one_query(engine)
    assert pings == []  # a new connection needs no ping
    assert _dbapi_connection_of_one_query(engine) is first
    assert pings == [first]


def test_an_idle_connection_that_fails_its_ping_is_replaced(tmp_path: Path) -> None:
    engine, pings = _engine(tmp_path, idle_seconds=0)
    first = _dbapi_connection_of_one_query(engine)
    engine.ping_fails = True  # type: ignore[attr-defined]
    replacement = _dbapi_connection_of_one_query(engine)  # the caller sees no error
    assert pings == [first]
    assert replacement is not first


def test_the_app_engine_pings_idle_connections(app: Flask) -> None:
    """The service's own engine has the listener, and not SQLAlchemy's ping on every checkout."""
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping") is not True
    assert db.engine.pool._pre_ping is False  # noqa: SLF001 (the pool keeps the flag privately)
    assert db.engine.pool.dispatch.checkout


@requires_postgres
def test_postgres_connection_killed_while_idle_is_replaced(app: Flask) -> None:
    """A backend terminated while its connection sat in the pool (a restart, an idle timeout)."""
    engine = create_engine(db.engine.url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_seconds=0)
    with engine.connect() as conn:
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with db.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        admin.commit()
    with engine.connect() as conn:  # would raise "server closed the connection" without the ping
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != victim
    engine.dispose()


@requires_postgres
def test_postgres_connection_killed_moments_after_use_is_replaced_without_waiting(app: Flask) -> None:
    """No idle time to go by: the terminated backend's last words make its socket readable."""
    engine = create_engine(db.engine.url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_seconds=3600)
    with engine.connect() as conn:
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with db.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        admin.commit()
    time.sleep(0.2)  # the FATAL message on its way
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != victim
    with engine.connect() as conn:  # a live connection, just returned: reused as it is
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
    engine.dispose()


@requires_postgres
def test_postgres_sessions_run_in_utc(app: Flask) -> None:
    """Whatever the server's zone, so timestamps arrive as ``datetime.UTC`` and pass through as is."""
    from datetime import UTC

    engine = create_engine(db.engine.url, connect_args={"options": "-c timezone=America/New_York"})
    with engine.connect() as conn:
        assert conn.execute(text("SHOW TIME ZONE")).scalar() == "UTC"
        assert conn.execute(text("SELECT now()")).scalar().tzinfo is UTC
    engine.dispose()


@requires_postgres
def test_killing_the_services_connections_under_load_costs_no_request(
    app: Flask, client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    """The service's PostgreSQL connections are terminated again and again while clients read
    through real HTTP: every request still answers, none with a 5xx (a connection that died idle is
    replaced at checkout; one that dies under a read-only request runs that request again)."""
    calendar = make_calendar()
    paths = [
        "/api/v1/calendars",
        f"/api/v1/calendars/{calendar['id']}",
        "/api/v1/calendar_events",
        "/api/v1/webhooks",
    ]
    statuses: list[int] = []
    stop = threading.Event()

    def load(base: str, n: int) -> None:
        session = requests.Session()
        i = n
        while not stop.is_set():
            response = session.get(base + paths[i % len(paths)], headers=auth, timeout=30)
            statuses.append(response.status_code)
            i += 1

    kills: list[int] = []
    with served(app) as base, psycopg.connect(TEST_DATABASE_URL, autocommit=True) as killer:
        threads = [threading.Thread(target=load, args=(base, n)) for n in range(4)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(8):
                time.sleep(0.4)
                terminated = killer.execute(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                ).fetchone()
                kills.append(terminated[0] if terminated else 0)
            time.sleep(0.4)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    assert sum(kills) >= 8, kills  # connections really were killed, several at a time
    assert len(statuses) > 100
    assert [s for s in statuses if s >= 500] == [], f"{len(statuses)} requests, {sum(kills)} connections killed"
    assert set(statuses) == {200}
