"""Leases on the service's singletons: the one beat that schedules periodic work, among any that run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import Model


class ServiceLease(Model):
    """Held by ``holder`` until ``expires_at``; the holder renews it well before then (webapp.runtime.scheduler)."""

    __tablename__ = "service_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
