"""Connect sessions: one end user's trip through the consent flow, started by the integrator."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, utcnow
from webapp.models.calendar import Calendar, Platform
from webapp.models.ids import new_object_id
from webapp.models.project import Project
from webapp.models.types import str_enum


class ConnectStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


class ConnectSession(Model):
    """The URL token is stored only as its SHA-256; the OAuth ``state`` of the latest attempt is kept
    so that a repeated callback finds its result without a second code exchange."""

    __tablename__ = "connect_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("cs_"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[Platform | None] = mapped_column(str_enum(Platform))
    # Reconnect this calendar in place (set at creation, or by a deduplication key match at the callback).
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendar.id", ondelete="SET NULL"), index=True)
    deduplication_key: Mapped[str | None] = mapped_column(String(1024))
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    redirect_url: Mapped[str | None] = mapped_column(String(2048))
    # The end user's language for the pages (None: the browser's Accept-Language, else English).
    locale: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[ConnectStatus] = mapped_column(str_enum(ConnectStatus), default=ConnectStatus.PENDING)
    # The calendar the session produced (created or reconnected).
    result_calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendar.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    # The latest authorization attempt: its state, which provider, when its callback was claimed.
    oauth_state: Mapped[str | None] = mapped_column(String(128), unique=True)
    attempt_platform: Mapped[Platform | None] = mapped_column(str_enum(Platform))
    callback_claimed_at: Mapped[datetime | None]
    # The provider account that consented (shown on the status page; login_hint for a reconnect).
    account_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship()
    calendar: Mapped[Calendar | None] = relationship(foreign_keys=[calendar_id])
    result_calendar: Mapped[Calendar | None] = relationship(foreign_keys=[result_calendar_id])

    @staticmethod
    def hash_token(token: str) -> str:
        """The stored form of a URL token: lowercase hex SHA-256."""
        return hashlib.sha256(token.encode()).hexdigest()
