"""The migrations in migrations/ produce exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade

from config import TestConfig
from tests.conftest import using_postgres
from webapp import create_app
from webapp.extensions import db


def _diff() -> list[object]:
    with db.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), db.metadata))


def test_migrations_match_models_on_sqlite_file(tmp_path: Path) -> None:
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.db'}")
    with app.app_context():
        upgrade()
        assert _diff() == []
        downgrade(revision="base")
        upgrade()
        assert _diff() == []
        db.engine.dispose()


def test_migrations_match_models_on_the_test_database(app: Flask) -> None:
    if not using_postgres():
        # The SQLite test database is built by create_all; the file test above covers SQLite.
        return
    assert _diff() == []
