"""Heartbeats: the worker and the beat say "alive" every few seconds, so readiness can tell when they stopped."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import Model
from webapp.models.types import str_enum


class HeartbeatKind(enum.StrEnum):
    WORKER = "worker"
    SCHEDULER = "scheduler"


class Heartbeat(Model):
    """One row per process (kind and instance id); the newest ``seen_at`` of a kind is its age."""

    __tablename__ = "heartbeat"

    kind: Mapped[HeartbeatKind] = mapped_column(str_enum(HeartbeatKind), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]
