"""The migrations in migrations/ produce exactly the schema the models describe."""

from __future__ import annotations

import importlib.util
import json
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


def test_0012_gives_stored_event_documents_their_bots_key() -> None:
    path = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0012_event_bots.py"
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = {
        "id": "evt_1",
        "raw": {"created_at": "provider's own", "description": 'text with ,"created_at": inside'},
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    }
    old = json.dumps(before, separators=(",", ":"))
    new = module._add_bots(old)
    assert list(json.loads(new)) == ["id", "raw", "bots", "created_at", "updated_at"]
    assert json.loads(new)["raw"] == before["raw"] and json.loads(new)["bots"] == []
    assert module._add_bots(new) == new  # idempotent
    assert module._remove_bots(new) == old
