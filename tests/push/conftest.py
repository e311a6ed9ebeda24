"""Push tests serve the app over HTTP on 127.0.0.1, so the emulated providers can call it back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from config import TestConfig, normalize_database_url
from emulator.servers import RunningEmulators
from tests.conftest import TEST_DATABASE_URL, _empty_tables, using_postgres
from tests.live import served
from webapp import create_app
from webapp.db import autocommit
from webapp.extensions import db
from webapp.runtime.celery_app import celery_for


@pytest.fixture
def served_app(_session_app: Flask, emulators: RunningEmulators, tmp_path: Path) -> Iterator[Flask]:
    """Its own app and database file (SQLite cannot share one in-memory connection across threads).

    On PostgreSQL it uses the test database that the session app migrated.
    """
    database = normalize_database_url(TEST_DATABASE_URL) if using_postgres() else f"sqlite:///{tmp_path / 'push.db'}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database)
    app.config.update(emulators.settings())
    with served(app), app.app_context():
        if not using_postgres():
            db.create_all()
        try:
            yield app
        finally:
            autocommit.release()  # a create in this context holds the context's connection until now
            db.session.remove()
            if using_postgres():
                _empty_tables()
            db.engine.dispose()


@pytest.fixture
def eager(served_app: Flask) -> Iterator[None]:
    """Queued tasks run at once, in the caller; and a thread plays the beat's dispatcher, looking
    for due syncs every 0.2 s (the beat does it every second)."""
    celery = celery_for(served_app)
    celery.conf.task_always_eager = True
    stop = threading.Event()

    def dispatcher() -> None:
        while not stop.wait(0.2):
            celery.tasks["sync.dispatch_due"].apply()

    thread = threading.Thread(target=dispatcher, name="test-dispatcher", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        celery.conf.task_always_eager = False
