"""Push channels: Google watch channels and Microsoft Graph subscriptions, one live per calendar."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import Model, utcnow
from webapp.models.calendar import Platform
from webapp.models.types import str_enum


class PushChannel(Model):
    """A channel (Google) or subscription (Microsoft) that tells us when a calendar changed.

    The secret we gave the provider (channel token / clientState) is kept only as a SHA-256 hash:
    notifications are checked against it and it is never sent anywhere else.
    """

    __tablename__ = "push_channel"
    __table_args__ = (Index("ix_push_channel_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendar.id", ondelete="CASCADE"), index=True)
    platform: Mapped[Platform] = mapped_column(str_enum(Platform))
    channel_id: Mapped[str] = mapped_column(String(255), unique=True)  # Google channel id / Graph subscription id
    resource_id: Mapped[str | None] = mapped_column(String(255))  # Google's resourceId (needed to stop)
    secret_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def secret_matches(self, presented: str | None) -> bool:
        """Constant-time check of a notification's channel token / clientState."""
        return presented is not None and hmac.compare_digest(self.secret_hash, self.hash_secret(presented))


class PushChannelStop(Model):
    """A channel to stop at the provider after its calendar was deleted (an outbox row).

    It carries the calendar's credential ciphertexts (still encrypted) because the calendar is gone.
    """

    __tablename__ = "push_channel_stop"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[Platform] = mapped_column(str_enum(Platform))
    channel_id: Mapped[str] = mapped_column(String(255))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
