"""The service's own health on the dashboard: a banner when the worker or the scheduler is stale, backlogs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_login import current_user

from webapp.extensions import utcnow
from webapp.models import HeartbeatKind, Project
from webapp.observability import status

_NAMES: dict[str, str] = {HeartbeatKind.WORKER: "worker", HeartbeatKind.SCHEDULER: "scheduler"}


def humanize(seconds: float) -> str:
    """``45 seconds``, ``3 minutes``, ``2 hours``, ``4 days``."""
    for unit, size, up_to in (("second", 1, 90), ("minute", 60, 90 * 60), ("hour", 3600, 48 * 3600)):
        if seconds < up_to:
            count = max(1, round(seconds / size)) if unit != "second" else round(seconds)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    days = round(seconds / 86400)
    return f"{days} day{'' if days == 1 else 's'}"


def stale_messages(now: datetime) -> list[str]:
    """One sentence per stale process kind (none when both are fresh)."""
    limit = int(current_app.config["WORKER_STALE_SECONDS"])
    messages = []
    for kind, age in status.heartbeat_ages(now).items():
        if age is not None and age <= limit:
            continue
        seen = "has never reported" if age is None else f"was last seen {humanize(age)} ago"
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
