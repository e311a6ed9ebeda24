"""Dashboard administrators, their project memberships, and per-client login throttling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, utcnow
from webapp.models.ids import new_object_id
from webapp.models.project import Project


class AdminUser(Model):
    """A person who logs in to the dashboard; the password only as an argon2 hash."""

    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("adm_"))
    email: Mapped[str] = mapped_column(String(320), unique=True)  # always lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Throttling: failures in the current window, when the window started, and a lock.
    failed_login_count: Mapped[int] = mapped_column(default=0, server_default="0")
    failed_login_window_start: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]

    memberships: Mapped[list[ProjectMembership]] = relationship(
        back_populates="admin", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login's user protocol (written out: its UserMixin is untyped).
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.is_active_account

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.object_id


class ProjectMembership(Model):
    """An admin may see and act on one project."""

    __tablename__ = "project_membership"
    __table_args__ = (UniqueConstraint("admin_id", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    admin: Mapped[AdminUser] = relationship(back_populates="memberships")
    project: Mapped[Project] = relationship()


class LoginThrottle(Model):
    """Failed logins from one client address (unknown emails included), for throttling."""

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_key: Mapped[str] = mapped_column(String(128), unique=True)
    failure_count: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]
