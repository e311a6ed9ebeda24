"""The service's own health on the dashboard: a banner when the worker or the scheduler is stale, backlogs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_login import current_user

from webapp.extensions import utcnow
from webapp.models import HeartbeatKind, Project
from webapp.observability import status
from webapp.timestamps import relative_time

_NAMES: dict[str, str] = {HeartbeatKind.WORKER: "worker", HeartbeatKind.SCHEDULER: "scheduler"}


def stale_messages(now: datetime) -> list[str]:
    """One sentence per stale process kind (none when both are fresh)."""
    limit = int(current_app.config["WORKER_STALE_SECONDS"])
    messages = []
    for kind, age in status.heartbeat_ages(now).items():
        if age is not None and age <= limit:
            continue
        seen = (
            "has never reported" if age is None else f"was last seen {relative_time(now - timedelta(seconds=age), now)}"
        )
        messages.append(f"Syncs and webhooks are not running: the {_NAMES[kind]} {seen}.")
    return messages


def banner_context() -> dict[str, list[str]]:
    """Template context of every dashboard page (signed-in admins only: the login page shows nothing)."""
    if not current_user.is_authenticated:
        return {"service_warnings": []}
    return {"service_warnings": stale_messages(utcnow())}


@dataclass(frozen=True)
class Backlogs:
    sync: status.Backlog
    webhooks: status.Backlog


def project_backlogs(project: Project, now: datetime) -> Backlogs:
    """The project's requested syncs and due deliveries that wait for the worker."""
    return Backlogs(status.sync_backlog(now, project.id), status.webhook_backlog(now, project.id))
