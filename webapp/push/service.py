"""Push channels: open and renew them after a sync, stop them on delete or disconnect.

Push is on only when ``PUBLIC_BASE_URL`` is set and https (providers must reach us, and only
over HTTPS; loopback http is allowed for the emulator and tests); polling stays as the safety net
either way. Push problems never fail a sync: the next sync tries again.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import delete, select

from config import push_base_url_problem
from webapp import crypto
from webapp.extensions import db
from webapp.models import Calendar, Platform
from webapp.models.push import PushChannel, PushChannelStop
from webapp.providers import Provider, get_provider
from webapp.providers.failures import ProviderFailure
from webapp.providers.google import GoogleProvider
from webapp.providers.microsoft import MicrosoftProvider

log = logging.getLogger(__name__)

GOOGLE_PATH = "/push/google"
MICROSOFT_PATH = "/push/microsoft"
MICROSOFT_LIFECYCLE_PATH = "/push/microsoft/lifecycle"
# Lower cap tried once when Graph refuses the configured subscription lifetime.
MICROSOFT_FALLBACK_MINUTES = 1440
STOP_ATTEMPTS = 5


def push_enabled() -> bool:
    return push_base_url_problem(str(current_app.config["PUBLIC_BASE_URL"] or "")) is None


def _url(path: str) -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + path


def ensure_channel(calendar: Calendar, provider: Provider, access_token: str, now: datetime) -> None:
    """Keep one live channel per connected calendar, renewed well before it expires (caller commits)."""
    if not push_enabled():
        return
    renew_before = timedelta(hours=current_app.config["PUSH_RENEW_BEFORE_HOURS"])
    channels = list(db.session.scalars(select(PushChannel).where(PushChannel.calendar_id == calendar.id)))
    live = [c for c in channels if c.expires_at - now > renew_before]
    if live:
        return
    calendar_id = None if calendar.is_primary else calendar.platform_uuid
    try:
        if isinstance(provider, GoogleProvider):
            _open_google(calendar, provider, access_token, calendar_id)
            for old in channels:
                _stop_quietly(provider, access_token, old)
                db.session.delete(old)
        elif isinstance(provider, MicrosoftProvider):
            _renew_or_open_microsoft(calendar, provider, access_token, calendar_id, channels, now)
    except ProviderFailure as exc:
        log.warning("push channel for %s not renewed: %s", calendar.object_id, exc.failure.code)


def _open_google(calendar: Calendar, provider: GoogleProvider, access_token: str, calendar_id: str | None) -> None:
    channel_id, secret = str(uuid.uuid4()), secrets.token_urlsafe(32)
    resource_id, expires_at = provider.watch(
        access_token=access_token,
        calendar_id=calendar_id,
        channel_id=channel_id,
        secret=secret,
        address=_url(GOOGLE_PATH),
    )
    db.session.add(
        PushChannel(
            calendar_id=calendar.id,
            platform=Platform.GOOGLE,
            channel_id=channel_id,
            resource_id=resource_id,
            secret_hash=PushChannel.hash_secret(secret),
            expires_at=expires_at,  # Google picks the real expiry: always the one it returned
        )
    )


def _renew_or_open_microsoft(
    calendar: Calendar,
    provider: MicrosoftProvider,
    access_token: str,
    calendar_id: str | None,
    channels: list[PushChannel],
    now: datetime,
) -> None:
    wanted = now + timedelta(minutes=current_app.config["MICROSOFT_SUBSCRIPTION_MAX_MINUTES"])
    for channel in channels:
        try:
            channel.expires_at = provider.renew_subscription(
                access_token=access_token, subscription_id=channel.channel_id, expires_at=wanted
            )
            return
        except ProviderFailure:
            db.session.delete(channel)  # gone (404) or refused: replace it with a new one
    secret = secrets.token_urlsafe(32)
    try:
        subscription_id, expires_at = _subscribe(provider, access_token, calendar_id, secret, wanted)
    except ProviderFailure as exc:
        if exc.failure.http_status != 400:
            raise
        fallback = now + timedelta(minutes=MICROSOFT_FALLBACK_MINUTES)
        subscription_id, expires_at = _subscribe(provider, access_token, calendar_id, secret, fallback)
    db.session.add(
        PushChannel(
            calendar_id=calendar.id,
            platform=Platform.MICROSOFT,
            channel_id=subscription_id,
            secret_hash=PushChannel.hash_secret(secret),
            expires_at=expires_at,  # renewal is scheduled from what Graph returned
        )
    )


def _subscribe(
    provider: MicrosoftProvider, access_token: str, calendar_id: str | None, secret: str, expires_at: datetime
) -> tuple[str, datetime]:
    return provider.subscribe(
        access_token=access_token,
        calendar_id=calendar_id,
        notification_url=_url(MICROSOFT_PATH),
        lifecycle_url=_url(MICROSOFT_LIFECYCLE_PATH),
        client_state=secret,
        expires_at=expires_at,
    )


def _stop_quietly(provider: Provider, access_token: str, channel: PushChannel) -> bool:
    try:
        if isinstance(provider, GoogleProvider):
            provider.stop_channel(
                access_token=access_token, channel_id=channel.channel_id, resource_id=channel.resource_id
            )
        elif isinstance(provider, MicrosoftProvider):
            provider.delete_subscription(access_token=access_token, subscription_id=channel.channel_id)
    except ProviderFailure as exc:
        log.info("could not stop push channel %s: %s", channel.channel_id, exc.failure.code)
        return False
    return True


def stop_channels(calendar: Calendar, provider: Provider | None, access_token: str | None) -> None:
    """On disconnect: stop at the provider when we still hold a token, and forget them (caller commits)."""
    for channel in db.session.scalars(select(PushChannel).where(PushChannel.calendar_id == calendar.id)):
        if provider is not None and access_token is not None:
            _stop_quietly(provider, access_token, channel)
        db.session.delete(channel)


def process_pending_stops() -> int:
    """Stop channels of deleted calendars (best effort, a bounded number of attempts each)."""
    stopped = 0
    for pending in list(db.session.scalars(select(PushChannelStop).order_by(PushChannelStop.id).limit(100))):
        pending.attempts += 1
        done = False
        try:
            secret = crypto.decrypt(pending.client_secret_ciphertext)
            refresh_token = crypto.decrypt(pending.refresh_token_ciphertext)
        except crypto.InvalidToken:
            secret = refresh_token = ""
        if secret and refresh_token:
            with requests.Session() as session:
                provider = get_provider(pending.platform, session)
                try:
                    tokens = provider.refresh(
                        client_id=pending.client_id, client_secret=secret, refresh_token=refresh_token
                    )
                    channel = PushChannel(channel_id=pending.channel_id, resource_id=pending.resource_id)
                    done = _stop_quietly(provider, tokens.access_token, channel)
                except ProviderFailure as exc:
                    log.info("cannot stop channel %s of a deleted calendar: %s", pending.channel_id, exc.failure.code)
        if done or pending.attempts >= STOP_ATTEMPTS or not (secret and refresh_token):
            db.session.execute(delete(PushChannelStop).where(PushChannelStop.id == pending.id))
            stopped += int(done)
        db.session.commit()
    return stopped
