"""Leaf module: the extension singletons and the declarative base (third-party imports only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        type_annotation_map={datetime: UTCDateTime},
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
    )


# Objects stay readable after commit: a view serializes what it just wrote without reloading it.
# Every web request and task gets a fresh session, so nothing stale outlives its unit of work.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
# CSRF on every browser form (exempted: the API, by key; provider notifications, by channel secret).
csrf = CSRFProtect()
# Dashboard sessions; configured in webapp.dashboard.init_app.
login_manager = LoginManager()

if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def utcnow() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


__all__ = ["Model", "db", "csrf", "login_manager", "utcnow", "UTCDateTime"]


@event.listens_for(Engine, "connect")
def _session_settings(dbapi_connection: Any, connection_record: Any) -> None:
    """Per-connection settings, set once when the connection opens.

    SQLite ignores ON DELETE CASCADE unless asked; PostgreSQL always enforces it. PostgreSQL
    sessions run in UTC: psycopg then returns timestamps with ``datetime.UTC`` itself, which
    ``UTCDateTime`` passes through, instead of the server's zone (``ZoneInfo``), which it would
    convert value by value (a tenth of the CPU of an events page).
    """
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
    elif module.startswith("psycopg"):
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()
