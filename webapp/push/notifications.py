"""Incoming push notifications: authenticate them, then ask for one debounced incremental sync."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from werkzeug.datastructures import Headers

from webapp.extensions import db, utcnow
from webapp.models.push import PushChannel
from webapp.sync import dispatch

log = logging.getLogger(__name__)


def request_push_sync(calendar_id: int, now: datetime) -> bool:
    """Debounce: the first notification of a burst asks for a sync a few seconds from now (the
    dispatcher queues it then); later ones find a sync due sooner already and change nothing.

    A change that lands during a sync gets a sync of its own (``dispatch.want_sync_at``).
    """
    wanted_at = now + timedelta(seconds=current_app.config["PUSH_DEBOUNCE_SECONDS"])
    return dispatch.want_sync_at([calendar_id], wanted_at) == 1


def _channel(channel_id: str | None, platform: str) -> PushChannel | None:
    if not channel_id:
        return None
    return db.session.scalar(
        select(PushChannel).where(PushChannel.channel_id == channel_id, PushChannel.platform == platform)
    )


def google_notification(headers: Headers) -> int:
    """Handle one Google notification; returns the HTTP status to answer.

    Unknown channel: 200 and ignored (Google would keep retrying errors). Wrong token or resource:
    403 and nothing changes. ``sync`` (the first message of a channel): acknowledged, ignored.
    """
    channel = _channel(headers.get("X-Goog-Channel-ID"), "google")
    if channel is None:
        return 200
    if not channel.secret_matches(headers.get("X-Goog-Channel-Token")) or (
        channel.resource_id != headers.get("X-Goog-Resource-ID")
    ):
        log.warning("refused a Google notification with a wrong token or resource for channel %s", channel.id)
        return 403
    if headers.get("X-Goog-Resource-State") in ("exists", "not_exists"):
        request_push_sync(channel.calendar_id, utcnow())
    return 200


def microsoft_notifications(payload: Any, *, lifecycle: bool) -> int:
    """Handle a Graph batch: every item is checked and processed; returns the HTTP status to answer."""
    items = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return 400
    accepted = refused = 0
    for item in items:
        if not isinstance(item, dict):
            refused += 1
            continue
        channel = _channel(str(item.get("subscriptionId") or ""), "microsoft")
        if channel is None:
            continue
        if not channel.secret_matches(item.get("clientState")):
            log.warning("refused a Graph notification with a wrong clientState for %s", channel.channel_id)
            refused += 1
            continue
        accepted += 1
        _apply(channel, str(item.get("lifecycleEvent") or "") if lifecycle else "")
    return 403 if refused and not accepted else 202


def _apply(channel: PushChannel, lifecycle_event: str) -> None:
    now, calendar_id = utcnow(), channel.calendar_id
    if lifecycle_event == "reauthorizationRequired":
        channel.expires_at = now  # the next sync renews it (a PATCH re-authorizes it)
        db.session.commit()
    elif lifecycle_event == "subscriptionRemoved":
        db.session.delete(channel)  # the next sync subscribes again, then resyncs by delta
        db.session.commit()
    request_push_sync(calendar_id, now)
