"""Dashboard actions, built on the calendars, onboarding and webhooks services (which own the writes)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from webapp.calendars import service as calendars
from webapp.connect import sessions, urls
from webapp.dashboard import queries
from webapp.extensions import db
from webapp.models import Calendar, ConnectRedirectOrigin, Project


@dataclass(frozen=True)
class ReconnectLink:
    calendar: Calendar
    url: str
    expires_at: str


def reconnect_link(*, project: Project, calendar: Calendar) -> ReconnectLink:
    """A new connect session bound to *calendar* (reconnects it in place); its URL is shown once."""
    connect, token = sessions.create_session(project=project, calendar_object_id=calendar.object_id)
    return ReconnectLink(calendar, urls.connect_url(token), connect.expires_at.isoformat())


def sync_failure_group(*, project: Project, code: str) -> int:
    """Request a sync of every disconnected calendar whose failure code is *code*; returns how many."""
    count, after = 0, 0
    while batch := queries.disconnected_with_code(project, code, after_id=after):
        for calendar in batch:
            calendars.request_sync(calendar=calendar)
            after = calendar.id
            count += 1
    return count


def reconnect_links_csv(*, project: Project, code: str) -> str:
    """CSV of one new reconnect link per disconnected calendar with failure code *code*."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["calendar_id", "platform", "platform_uuid", "deduplication_key", "reconnect_url", "expires_at"])
    after = 0
    while batch := queries.disconnected_with_code(project, code, after_id=after):
        for calendar in batch:
            link = reconnect_link(project=project, calendar=calendar)
            writer.writerow(
                [
                    calendar.object_id,
                    calendar.platform,
                    _cell(calendar.platform_uuid),
                    _cell(calendar.deduplication_key),
                    link.url,
                    link.expires_at,
                ]
            )
            after = calendar.id
    return out.getvalue()


def _cell(value: str | None) -> str:
    """Neutralise spreadsheet formulas in values that came from outside."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def remove_redirect_origin(*, origin: ConnectRedirectOrigin) -> None:
    """Stop allowing an origin for new connect sessions (the onboarding service has no remover yet)."""
    db.session.delete(origin)
    db.session.commit()
