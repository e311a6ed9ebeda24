"""Calendar events as synced from the provider, plus the history the dashboard and webhooks read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, utcnow
from webapp.models.calendar import Calendar, CalendarState
from webapp.models.ids import new_object_id
from webapp.models.types import str_enum


class CalendarEvent(Model):
    """One event instance; upserted by (calendar, provider event id), never hard-deleted by sync."""

    __tablename__ = "calendar_event"
    __table_args__ = (
        UniqueConstraint("calendar_id", "platform_uuid"),
        # One index per list ordering, so every page is an index walk (project-wide and per calendar).
        Index("ix_calendar_event_project_updated", "project_id", "updated_at", "id"),
        Index("ix_calendar_event_project_start", "project_id", "start_time", "id"),
        Index("ix_calendar_event_project_end", "project_id", "end_time", "id"),
        Index("ix_calendar_event_project_created", "project_id", "created_at", "id"),
        Index("ix_calendar_event_calendar_updated", "calendar_id", "updated_at", "id"),
        Index("ix_calendar_event_calendar_start", "calendar_id", "start_time", "id"),
        Index("ix_calendar_event_calendar_end", "calendar_id", "end_time", "id"),
        Index("ix_calendar_event_calendar_created", "calendar_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("evt_"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar.id", ondelete="CASCADE"))
    platform_uuid: Mapped[str] = mapped_column(String(1024))
    ical_uid: Mapped[str | None] = mapped_column(String(1024))
    name: Mapped[str | None] = mapped_column(Text)
    meeting_url: Mapped[str | None] = mapped_column(Text)
    start_time: Mapped[datetime]
    end_time: Mapped[datetime]
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Digest of the fields above; updated_at moves only when it changes.
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The API object, serialized whenever the row is written: lists send it as it is, without
    # decoding and re-encoding provider payloads (kept current by webapp.events.documents).
    api_json: Mapped[str | None] = mapped_column(Text)

    # The API shows the calendar's public id with every event.
    calendar: Mapped[Calendar] = relationship(lazy="select", viewonly=True)


class SyncAttempt(Model):
    """One run of the sync use case for one calendar."""

    __tablename__ = "sync_attempt"
    __table_args__ = (Index("ix_sync_attempt_calendar_started", "calendar_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    duration_ms: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(16))  # success | failure
    full_resync: Mapped[bool] = mapped_column(Boolean, default=False)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    deleted_count: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)


class CalendarStateChange(Model):
    """A transition of ``calendar.state`` (both directions), with the failure code that caused it."""

    __tablename__ = "calendar_state_change"
    __table_args__ = (Index("ix_calendar_state_change_calendar_at", "calendar_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar.id", ondelete="CASCADE"))
    from_state: Mapped[CalendarState] = mapped_column(str_enum(CalendarState))
    to_state: Mapped[CalendarState] = mapped_column(str_enum(CalendarState))
    code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
