"""Outbound webhooks: endpoints, the project's signing secrets, and deliveries (the outbox) with attempts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model, utcnow
from webapp.models.ids import new_object_id
from webapp.models.types import str_enum


class WebhookTrigger(enum.StrEnum):
    STATE_CHANGE = "calendar.state_change"
    EVENTS_UPDATE = "calendar.events_update"


class EndpointState(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# Sent by ``POST /webhooks/{id}/test``; never a subscription choice.
TEST_TRIGGER = "webhook.test"


class WebhookEndpoint(Model):
    """A URL of a project that wants some triggers; paused by hand or after repeated failed deliveries."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_project_id_id", "project_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("wh_"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    triggers: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[EndpointState] = mapped_column(str_enum(EndpointState), default=EndpointState.ACTIVE)
    paused_reason: Mapped[str | None] = mapped_column(String(500))
    # Deliveries in a row that ended ``failed``; any 2xx resets it.
    failure_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSecret(Model):
    """A project's signing secret (Fernet ciphertext of its base64); ``expires_at`` is set once rotated out."""

    __tablename__ = "webhook_secret"
    __table_args__ = (Index("ix_webhook_secret_project_id_created_at", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class WebhookDelivery(Model):
    """One event for one endpoint: the outbox row, written in the transaction of the change it reports."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_endpoint_id_id", "endpoint_id", "id"),
        Index("ix_webhook_delivery_calendar_id_id", "calendar_id", "id"),
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: new_object_id("whd_"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendar.id", ondelete="SET NULL"))
    trigger: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(36), unique=True)
    # The exact envelope; the signed body is its canonical JSON.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus), default=DeliveryStatus.PENDING)
    # Attempts in the current round (a redelivery starts a new round; the attempt rows keep all).
    attempt_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # When a pending delivery is due; while an attempt runs, the end of its claim.
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    endpoint: Mapped[WebhookEndpoint] = relationship()
    attempts: Mapped[list[WebhookAttempt]] = relationship(
        order_by="WebhookAttempt.id", cascade="all, delete-orphan", passive_deletes=True
    )


class WebhookAttempt(Model):
    """One HTTP POST of a delivery: what came back, or why nothing did (never a secret)."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery_id_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
