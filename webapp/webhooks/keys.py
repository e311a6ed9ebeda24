"""A project's webhook signing secrets: 32 random bytes, encrypted at rest, rotated with an overlap."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

from webapp import crypto
from webapp.extensions import db
from webapp.models import WebhookSecret

SECRET_BYTES = 32


def secret_bytes(secret: WebhookSecret) -> bytes:
    return base64.b64decode(crypto.decrypt(secret.secret_ciphertext))


def secret_text(secret: WebhookSecret) -> str:
    """The secret as shown to the integrator: base64 of its bytes."""
    return crypto.decrypt(secret.secret_ciphertext)


def live_secrets(project_id: int, now: datetime) -> list[WebhookSecret]:
    """The secrets that sign deliveries now, newest first."""
    query = (
        select(WebhookSecret)
        .where(
            WebhookSecret.project_id == project_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now),
        )
        .order_by(WebhookSecret.created_at.desc(), WebhookSecret.id.desc())
    )
    return list(db.session.scalars(query))


def _new_secret(project_id: int, now: datetime) -> WebhookSecret:
    text = base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")
    secret = WebhookSecret(project_id=project_id, secret_ciphertext=crypto.encrypt(text), created_at=now)
    db.session.add(secret)
    return secret


def current_secret(project_id: int, now: datetime) -> WebhookSecret:
    """The newest live secret, created on first use (added to the session, not committed)."""
    live = live_secrets(project_id, now)
    return live[0] if live else _new_secret(project_id, now)


def rotate(project_id: int, now: datetime) -> tuple[WebhookSecret, datetime]:
    """A new secret; the others stay live for ``WEBHOOK_SECRET_ROTATION_HOURS`` (not committed)."""
    until = now + timedelta(hours=int(current_app.config["WEBHOOK_SECRET_ROTATION_HOURS"]))
    for old in live_secrets(project_id, now):
        if old.expires_at is None or old.expires_at > until:
            old.expires_at = until
    return _new_secret(project_id, now), until
