"""Projects (the integrator's tenant) and their API keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, utcnow
from webapp.models.ids import new_object_id


class ProjectScope(Protocol):
    """Enough of a project to scope reads and writes to it: a ``Project``, or a ``ProjectRef``."""

    @property
    def id(self) -> int: ...

    @property
    def object_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ProjectRef:
    """The project an API key belongs to: its ids, all an API request needs (no ORM object to build)."""

    id: int
    object_id: str


class Project(Model):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("proj_"))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Branding of the end-user pages (``webapp.projects.branding`` validates every value; None: unset).
    display_name: Mapped[str | None] = mapped_column(String(100))
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    accent_color: Mapped[str | None] = mapped_column(String(7))
    support_url: Mapped[str | None] = mapped_column(String(2048))
    privacy_url: Mapped[str | None] = mapped_column(String(2048))
    terms_url: Mapped[str | None] = mapped_column(String(2048))

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="project", cascade="all, delete-orphan")


class ApiKey(Model):
    """An API key, stored only as the SHA-256 of its plaintext."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("key_"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship(back_populates="api_keys")

    @staticmethod
    def hash_key(plaintext: str) -> str:
        """The stored form of a key: lowercase hex SHA-256."""
        return hashlib.sha256(plaintext.encode()).hexdigest()
