"""A project's own OAuth apps (one per platform) and the origins its connect sessions may return to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import Model, utcnow
from webapp.models.calendar import Platform
from webapp.models.types import str_enum


class OAuthApp(Model):
    """Client credentials the consent flow uses for one (project, platform); the secret only as ciphertext."""

    __tablename__ = "oauth_app"
    __table_args__ = (UniqueConstraint("project_id", "platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    platform: Mapped[Platform] = mapped_column(str_enum(Platform))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # Microsoft only: common, organizations, consumers, a tenant GUID or a verified domain.
    tenant: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConnectRedirectOrigin(Model):
    """An origin (``scheme://host[:port]``) a connect session's ``redirect_url`` may point to."""

    __tablename__ = "connect_redirect_origin"
    __table_args__ = (UniqueConstraint("project_id", "origin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
