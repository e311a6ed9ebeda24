"""Channels of a deleted calendar: kept as outbox rows, stopped at the provider by a worker's
periodic ``push.stop_channels`` (every minute).

Separate from ``push.service`` so that the web process, which deletes calendars, does not load the
provider and HTTP code that stopping a channel needs.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Calendar
from webapp.models.push import PushChannel, PushChannelStop


def queue_stops_for_deleted(calendar: Calendar) -> bool:
    """Before a calendar is deleted: keep what is needed to stop its channels later (caller commits)."""
    channels = list(db.session.scalars(select(PushChannel).where(PushChannel.calendar_id == calendar.id)))
    for channel in channels:
        db.session.add(
            PushChannelStop(
                platform=channel.platform,
                channel_id=channel.channel_id,
                resource_id=channel.resource_id,
                client_id=calendar.client_id,
                client_secret_ciphertext=calendar.client_secret_ciphertext,
                refresh_token_ciphertext=calendar.refresh_token_ciphertext,
            )
        )
    return bool(channels)
