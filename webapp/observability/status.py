"""The service's own health, read from the database: heartbeats, backlogs, calendars, the schema revision.

Shared by ``/readyz``, ``/metrics`` and the dashboard banner. Each figure is one grouped query
(the backlogs walk the partial index on ``next_sync_at`` and the index on the deliveries'
``(status, next_attempt_at)``), so a scrape every few seconds costs the database next to nothing.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Select, case, func, literal, or_, select, text

from config import PROJECT_ROOT
from webapp.extensions import db
from webapp.models import (
    TEST_TRIGGER,
    Calendar,
    DeliveryStatus,
    EndpointState,
    Heartbeat,
    HeartbeatKind,
    WebhookDelivery,
    WebhookEndpoint,
)

MIGRATIONS = PROJECT_ROOT / "migrations" / "versions"


@dataclass(frozen=True)
class Backlog:
    count: int
    oldest_seconds: float | None  # None when empty

    def as_json(self) -> dict[str, object]:
        oldest = None if self.oldest_seconds is None else round(self.oldest_seconds, 1)
        return {"count": self.count, "oldest_seconds": oldest}


@dataclass(frozen=True)
class ServiceStatus:
    calendars: dict[tuple[str, str], int]
    sync_backlog: Backlog
    webhook_backlog: Backlog
    worker_age: float | None
    scheduler_age: float | None


def _age(now: datetime, then: datetime | None) -> float | None:
    if then is None:
        return None
    return max(0.0, (now - _aware(then)).total_seconds())


def _aware(value: datetime) -> datetime:
    """SQLite's aggregates bypass the column type and may come back as naive UTC values or strings."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def heartbeat_ages(now: datetime) -> dict[str, float | None]:
    """Seconds since the newest heartbeat of each kind (None: never seen)."""
    rows = db.session.execute(select(Heartbeat.kind, func.max(Heartbeat.seen_at)).group_by(Heartbeat.kind)).all()
    seen: dict[str, datetime | None] = {kind: newest for kind, newest in rows}  # noqa: C416
    return {kind: _age(now, seen.get(kind)) for kind in HeartbeatKind}


def sync_backlog(now: datetime, project_id: int | None = None) -> Backlog:
    """Due syncs (``next_sync_at``: requested, retried or at their interval; not backing off) not yet
    started; the oldest since it became due."""
    due_since = case(
        (Calendar.next_attempt_at > Calendar.next_sync_at, Calendar.next_attempt_at),
        else_=Calendar.next_sync_at,
    )
    query = select(func.count(), func.min(due_since)).where(
        Calendar.next_sync_at <= now,
        or_(Calendar.next_attempt_at.is_(None), Calendar.next_attempt_at <= now),
        or_(Calendar.lease_expires_at.is_(None), Calendar.lease_expires_at < now),  # not being synced
    )
    return _backlog(now, query if project_id is None else query.where(Calendar.project_id == project_id))


def webhook_backlog(now: datetime, project_id: int | None = None) -> Backlog:
    """Pending deliveries whose time has come (in-flight ones are claimed into the future; paused
    endpoints are the integrator's to resume, not a backlog the workers can drain)."""
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.state == EndpointState.ACTIVE)
    query = select(func.count(), func.min(WebhookDelivery.next_attempt_at)).where(
        WebhookDelivery.status == DeliveryStatus.PENDING,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.endpoint_id.in_(active), WebhookDelivery.trigger == TEST_TRIGGER),
    )
    return _backlog(now, query if project_id is None else query.where(WebhookDelivery.project_id == project_id))


def _backlog(now: datetime, query: Select[tuple[int, datetime | None]]) -> Backlog:
    count, oldest = db.session.execute(query).one()
    return Backlog(int(count or 0), _age(now, oldest))


def calendar_counts() -> dict[tuple[str, str], int]:
    rows = db.session.execute(
        select(Calendar.platform, Calendar.state, func.count()).group_by(Calendar.platform, Calendar.state)
    ).all()
    return {(platform, state): int(count) for platform, state, count in rows}


def service_status(now: datetime) -> ServiceStatus:
    ages = heartbeat_ages(now)
    return ServiceStatus(
        calendars=calendar_counts(),
        sync_backlog=sync_backlog(now),
        webhook_backlog=webhook_backlog(now),
        worker_age=ages[HeartbeatKind.WORKER],
        scheduler_age=ages[HeartbeatKind.SCHEDULER],
    )


def database_round_trip() -> None:
    """One ``SELECT 1`` on a fresh checkout from the pool; raises when the database cannot answer."""
    with db.engine.connect() as conn:
        conn.execute(select(literal(1)))


def current_revisions() -> set[str]:
    with db.engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}


_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*=\s*(.+)$", re.MULTILINE)


@functools.cache
def head_revisions(folder: Path = MIGRATIONS) -> frozenset[str]:
    """The heads of the migration scripts, read as text: web workers do not import Alembic (10 MB each)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in folder.glob("*.py"):
        values = {name: ast.literal_eval(value.strip()) for name, value in _ASSIGNMENT.findall(script.read_text())}
        if "revision" not in values:
            continue
        revisions.add(values["revision"])
        down = values.get("down_revision")
        parents.update([down] if isinstance(down, str) else list(down or ()))
    return frozenset(revisions - parents)
