"""Schema migrations for the command line. Alembic is imported only here, never by web workers."""

from __future__ import annotations

from flask import Flask

from config import PROJECT_ROOT
from webapp.extensions import db


def init_migrations(app: Flask) -> None:
    """Attach Flask-Migrate (the ``flask db`` commands and ``upgrade()`` need it)."""
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)


def ensure_schema() -> None:
    """Bring the database to the latest migration, so a first command works on a fresh machine."""
    from flask_migrate import upgrade

    upgrade()
