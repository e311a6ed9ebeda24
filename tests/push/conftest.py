"""Push tests serve the app over HTTP on 127.0.0.1, so the emulated providers can call it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from config import TestConfig, normalize_database_url
from emulator.servers import RunningEmulators
from tests.conftest import TEST_DATABASE_URL, _empty_tables, using_postgres
from tests.live import served
from webapp import create_app
from webapp.extensions import db


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
            db.session.remove()
            if using_postgres():
                _empty_tables()
            db.engine.dispose()


@pytest.fixture
def eager(served_app: Flask) -> Iterator[None]:
    """Run queued tasks at once, in the caller (the notification's request thread included)."""
    celery = served_app.extensions["celery"]
    celery.conf.task_always_eager = True
    try:
        yield
    finally:
        celery.conf.task_always_eager = False
