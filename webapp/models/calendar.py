"""Calendars: one connected provider calendar, its encrypted credentials and sync timestamps."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, utcnow
from webapp.models.ids import new_object_id
from webapp.models.project import Project
from webapp.models.types import str_enum

if TYPE_CHECKING:  # the event module refers to calendars, not the other way round
    from webapp.models.event import CalendarEvent


class Platform(enum.StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"


class CalendarState(enum.StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class Calendar(Model):
    """Secrets live only as ciphertext; they are decrypted on demand, never while listing."""

    __tablename__ = "calendar"
    __table_args__ = (
        UniqueConstraint("project_id", "deduplication_key"),
        # Backs the newest-first cursor listing (and its filters) without a sort.
        Index("ix_calendar_project_id_id", "project_id", "id"),
        Index("ix_calendar_state_next_attempt_at", "state", "next_attempt_at"),
        # The dispatcher's look, every second, for due syncs, oldest first. The WHERE is declared
        # for PostgreSQL only: naming a SQLite option too would make every web worker load
        # SQLAlchemy's SQLite dialect to check it (0.5 MB). SQLite gets the partial index from
        # migration 0014 all the same; create_all (the SQLite tests) builds a full one, which
        # serves the same query.
        Index("ix_calendar_next_sync_at", "next_sync_at", postgresql_where=text("next_sync_at IS NOT NULL")),
        # The dispatcher's count of syncs queued and not yet started (SYNC_QUEUE_LIMIT).
        Index(
            "ix_calendar_sync_dispatched_at",
            "sync_dispatched_at",
            postgresql_where=text("sync_dispatched_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("cal_"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    platform: Mapped[Platform] = mapped_column(str_enum(Platform))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    platform_uuid: Mapped[str | None] = mapped_column(String(1024))
    # Created without platform_uuid: the account's primary calendar (platform_uuid is filled in later).
    is_primary: Mapped[bool] = mapped_column(default=False, server_default=false())
    state: Mapped[CalendarState] = mapped_column(str_enum(CalendarState), default=CalendarState.CONNECTED)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    deduplication_key: Mapped[str | None] = mapped_column(String(1024))
    connection_failure_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_successful_sync_at: Mapped[datetime | None]
    last_attempted_sync_at: Mapped[datetime | None]
    # When the next sync is due: one clock for every reason to sync (webapp.sync.dispatch). A
    # request (creation, new credentials, the API, the dashboard) makes it now; a push notification
    # a moment later, so a burst makes one sync; a finished sync the next interval; a transient
    # failure the end of its backoff. None: nothing is due (a disconnected calendar waits for new
    # credentials).
    next_sync_at: Mapped[datetime | None]
    # When the dispatcher queued the due sync (so it is queued once); the sync's end clears it.
    sync_dispatched_at: Mapped[datetime | None]
    # Provider cursor: Google's nextSyncToken or Microsoft's whole deltaLink, with the window it covers.
    sync_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A lease, so two workers never sync one calendar at once (Microsoft tokens rotate on refresh).
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    # Backoff after a transient failure, and the run of consecutive failures of one code.
    next_attempt_at: Mapped[datetime | None]
    failure_count: Mapped[int] = mapped_column(default=0, server_default="0")
    first_failed_at: Mapped[datetime | None]
    last_failure_code: Mapped[str | None] = mapped_column(String(64))
    refresh_token_issued_at: Mapped[datetime | None]
    # The access token of the last refresh (Fernet, like the refresh token), reused until a few
    # minutes before it expires; cleared whenever the credentials change.
    access_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[datetime | None]
    last_refreshed_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship()
    events: Mapped[list[CalendarEvent]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="noload"
    )
