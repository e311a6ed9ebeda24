"""History is kept for a set time, then pruned in small batches by the scheduler.

Sync attempts, state changes, finished webhook deliveries (with their attempts), ended connect
sessions and stale login throttles would otherwise grow without end (at 100,000 calendars and a
30-minute interval, 4.8 million attempt rows a day). Each table is pruned oldest first, by primary
key, a batch at a time, so that no run holds a long lock or scans a large table: the rows of these
tables are written in time order, and a batch that reaches a row younger than the cut-off ends the
run for that table. A retention of 0 days keeps everything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, delete, select, true
from sqlalchemy.orm import InstrumentedAttribute

from webapp.extensions import Model, db
from webapp.models import (
    CalendarStateChange,
    ConnectSession,
    DeliveryStatus,
    LoginThrottle,
    SyncAttempt,
    WebhookAttempt,
    WebhookDelivery,
)

log = logging.getLogger(__name__)

BATCH = 1000
MAX_BATCHES = 20  # per table and run: at most 20,000 rows a minute each


@dataclass(frozen=True)
class Rule:
    """Rows of *model* whose *stamp* is older than the setting's number of days go (if *kept* allows)."""

    model: type[Model]
    stamp: InstrumentedAttribute[datetime]
    setting: str
    prunable: ColumnElement[bool] = true()


RULES = (
    Rule(SyncAttempt, SyncAttempt.started_at, "SYNC_ATTEMPT_RETENTION_DAYS"),
    Rule(CalendarStateChange, CalendarStateChange.created_at, "STATE_CHANGE_RETENTION_DAYS"),
    # Pending deliveries are work, not history: only delivered or failed ones are pruned.
    Rule(
        WebhookDelivery,
        WebhookDelivery.updated_at,
        "WEBHOOK_DELIVERY_RETENTION_DAYS",
        WebhookDelivery.status != DeliveryStatus.PENDING,
    ),
    Rule(ConnectSession, ConnectSession.expires_at, "CONNECT_SESSION_RETENTION_DAYS"),
)


def prune(now: datetime) -> dict[str, int]:
    """One run over every table; returns the rows deleted per table."""
    deleted = {}
    for rule in RULES:
        days = int(current_app.config[rule.setting])
        if days > 0:
            deleted[rule.model.__tablename__] = _prune_table(rule, now - timedelta(days=days))
    deleted[LoginThrottle.__tablename__] = _prune_login_throttles(now)
    if any(deleted.values()):
        log.info("pruned history: %s", ", ".join(f"{n} {table}" for table, n in deleted.items() if n))
    return deleted


def _prune_table(rule: Rule, cutoff: datetime) -> int:
    primary_key = rule.model.id  # type: ignore[attr-defined]
    total = 0
    for _ in range(MAX_BATCHES):
        rows = db.session.execute(
            select(primary_key, rule.stamp).where(rule.prunable).order_by(primary_key).limit(BATCH)
        ).all()
        old = [row_id for row_id, stamp in rows if stamp < cutoff]
        if old:
            if rule.model is WebhookDelivery:  # its attempts first (SQLite does not enforce ON DELETE CASCADE)
                db.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
            db.session.execute(delete(rule.model).where(primary_key.in_(old)))
        db.session.commit()
        total += len(old)
        if len(old) < BATCH:  # reached rows younger than the cut-off (or the end)
            break
    return total


def _prune_login_throttles(now: datetime) -> int:
    """A throttle row matters for its window and its lock; a day later it is noise."""
    stale = select(LoginThrottle.id).where(
        LoginThrottle.window_start < now - timedelta(days=1),
        (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now),
    )
    ids = list(db.session.scalars(stale.limit(BATCH)))
    if ids:
        db.session.execute(delete(LoginThrottle).where(LoginThrottle.id.in_(ids)))
    db.session.commit()
    return len(ids)
