"""The consent flow's steps: open a session, start an authorization, finish it at the callback.

The calendar is created or reconnected only through ``webapp.calendars.service``. Every failure is a
``ConnectFailure`` (rendered by the onboarding blueprint as a page); nothing is stored for a calendar
unless the provider gave a refresh token with the calendar scope.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import g, session
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update

from webapp.calendars import service
from webapp.connect import apps, sessions, urls
from webapp.connect.apps import AppCredentials
from webapp.errors import AppError, DuplicateDeduplicationKey
from webapp.extensions import db, utcnow
from webapp.i18n import use_session_locale
from webapp.models import Calendar, CalendarState, ConnectSession, ConnectStatus, Platform
from webapp.onboarding import security
from webapp.projects.branding import Branding
from webapp.providers.failures import ProviderFailure
from webapp.webhooks import service as webhooks

if TYPE_CHECKING:
    from webapp.providers.oauth import Grant

log = logging.getLogger(__name__)

STATES_KEY = "connect_states"  # Flask session: OAuth state -> connect token, for the callback
MAX_REMEMBERED_STATES = 8
CLAIM_WAIT_SECONDS = 10.0

# Codes of this flow that are not provider answers (the taxonomy has no entry for them).
SESSION_EXPIRED = "session_expired"
SESSION_USED = "session_used"
SESSION_UNKNOWN = "session_unknown"
STATE_MISMATCH = "state_mismatch"
PLATFORM_UNAVAILABLE = "platform_unavailable"
BRANDING_KEY = "branding"  # flask.g: the Branding of the project whose pages this request shows


class ConnectFailure(AppError):
    """A failed step, shown as a page. ``code`` is a taxonomy code or one of the session codes above;
    ``retry_token`` (when the session can still be used) makes a "Try again" link."""

    def __init__(
        self,
        code: str,
        *,
        platform: str | None = None,
        retry_token: str | None = None,
        done_token: str | None = None,
        status: int = 400,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.platform = platform
        self.retry_token = retry_token
        self.done_token = done_token
        self.status = status


@dataclass(frozen=True)
class Choice:
    connect: ConnectSession
    platforms: list[Platform]


def branded(connect: ConnectSession | None) -> ConnectSession | None:
    """Remember the session's project for this request: its branding dresses every end-user page
    rendered from here on, failure pages included (``BRANDING_KEY``), and its logo's origin joins
    the page's ``img-src``."""
    if connect is not None:
        brand = Branding.of(connect.project)
        g.setdefault(BRANDING_KEY, brand)
        g.setdefault(security.LOGO_ORIGIN_KEY, brand.logo_origin)
    return connect


def open_session(token: str) -> ConnectSession:
    """A session that can still start a flow. :raises ConnectFailure: unknown, expired or already used."""
    connect = _bind(sessions.by_token(token))
    if connect is None:
        raise ConnectFailure(SESSION_UNKNOWN, status=404)
    if connect.status == ConnectStatus.COMPLETED:
        raise ConnectFailure(SESSION_USED, done_token=token, status=410)
    if sessions.expire_if_due(connect):
        raise ConnectFailure(SESSION_EXPIRED, status=410)
    return connect


def choice(token: str) -> Choice:
    connect = open_session(token)
    return Choice(connect, apps.available_platforms(connect.project))


def start(token: str, platform_name: str) -> ResponseReturnValue:
    """Begin the authorization for *platform_name*: a new state bound to this browser and this session."""
    connect = open_session(token)
    try:
        platform = Platform(platform_name)
    except ValueError:
        raise ConnectFailure(PLATFORM_UNAVAILABLE, retry_token=token, status=404) from None
    if connect.platform is not None and connect.platform != platform:
        raise ConnectFailure(PLATFORM_UNAVAILABLE, platform=platform, retry_token=token, status=404)
    credentials = apps.credentials_for(connect.project, platform)
    if credentials is None:  # no OAuth app for this platform: the integrator must configure one
        _fail(connect, "client_misconfigured")
        raise ConnectFailure("client_misconfigured", platform=platform, retry_token=token)
    target = connect.calendar
    if target is not None and target.client_id != credentials.client_id:
        # The new refresh token would belong to another OAuth client than the calendar's.
        _fail(connect, "client_misconfigured")
        raise ConnectFailure("client_misconfigured", platform=platform, retry_token=token)
    state = secrets.token_urlsafe(24)
    connect.oauth_state = state
    connect.attempt_platform = platform
    connect.callback_claimed_at = None
    connect.status = ConnectStatus.PENDING
    connect.updated_at = utcnow()
    db.session.commit()
    remembered = dict(session.get(STATES_KEY) or {})
    remembered[state] = token
    session[STATES_KEY] = dict(list(remembered.items())[-MAX_REMEMBERED_STATES:])
    from webapp.providers import oauth  # Authlib: imported by the consent flow only (see _oauth)

    return oauth.authorize_redirect(
        credentials, redirect_uri=urls.callback_url(platform), state=state, login_hint=_login_hint(connect)
    )


def finish(platform_name: str, state: str | None) -> str:
    """Handle the provider's redirect back; returns the token of the completed session.

    Single-use and idempotent per state: the state is claimed atomically before the code exchange, and
    a repeated callback (back button, double click) gets the recorded outcome, never a second exchange.
    """
    state = state or ""
    remembered = session.get(STATES_KEY) or {}
    found = remembered.get(state) if isinstance(remembered, dict) else None
    connect = _bind(sessions.by_token(found)) if isinstance(found, str) else None
    if connect is None or not isinstance(found, str):
        # The browser did not bring back the cookie that started this flow (blocked cookie, other host).
        raise ConnectFailure(STATE_MISMATCH, platform=platform_name)
    token: str = found
    if connect.oauth_state != state or connect.attempt_platform != platform_name:
        raise ConnectFailure(STATE_MISMATCH, platform=platform_name, retry_token=_retry_token(connect, token))
    if connect.status == ConnectStatus.COMPLETED:
        return token
    if connect.callback_claimed_at is not None or not _claim(connect, state):
        return _outcome_of_claimed(connect, token)
    if sessions.expire_if_due(connect):
        raise ConnectFailure(SESSION_EXPIRED, platform=platform_name, status=410)
    platform = Platform(platform_name)
    credentials = apps.credentials_for(connect.project, platform)
    if credentials is None:
        _fail(connect, "client_misconfigured")
        raise ConnectFailure("client_misconfigured", platform=platform_name, retry_token=token)
    from authlib.integrations.base_client import MismatchingStateError

    from webapp.providers import oauth

    try:
        grant = oauth.finish_authorization(credentials)
    except ProviderFailure as exc:
        _fail(connect, exc.failure.code)
        raise ConnectFailure(exc.failure.code, platform=platform_name, retry_token=token) from None
    except MismatchingStateError:
        _fail(connect, STATE_MISMATCH)
        raise ConnectFailure(STATE_MISMATCH, platform=platform_name, retry_token=token) from None
    try:
        calendar = _store(connect, credentials, grant)
    except ConnectFailure as exc:
        db.session.rollback()  # nothing of this attempt is kept but its failure
        _fail(connect, exc.code)
        exc.retry_token = token
        raise
    _complete(connect, calendar, grant)
    # One transaction: the calendar (created or reconnected) and the session's completion commit
    # together, so a session is never completed without its calendar, nor a calendar stored by a
    # session that still reads as pending.
    db.session.commit()
    webhooks.enqueue_recorded()  # a reconnect's state-change webhooks, now committed
    return token


def done(token: str) -> ConnectSession:
    """The completed session behind a status page. :raises ConnectFailure: unknown or not completed."""
    connect = _bind(sessions.by_token(token))
    if connect is None:
        raise ConnectFailure(SESSION_UNKNOWN, status=404)
    if connect.status != ConnectStatus.COMPLETED:
        raise ConnectFailure(
            connect.error_code or SESSION_UNKNOWN,
            platform=connect.attempt_platform,
            retry_token=_retry_token(connect, token),
        )
    return connect


def reconnect(token: str) -> str | None:
    """From a status page: a new session reconnecting that calendar; returns its token.

    Only a disconnected calendar can be reconnected from its status page (None otherwise): an old
    status link must not be a standing licence to swap a working calendar's credentials.
    """
    connect = done(token)
    calendar = connect.result_calendar
    if calendar is None or calendar.state != CalendarState.DISCONNECTED:
        return None
    _, new_token = sessions.reconnect_session(previous=connect)
    return new_token


# --- helpers ------------------------------------------------------------------------------------


def _bind(connect: ConnectSession | None) -> ConnectSession | None:
    """Make *connect* the session this request's page is about: its language, its project's branding,
    and its redirect origin for a failure page opened as a popup (``current_session``)."""
    if connect is not None:
        g.connect_session = connect
        use_session_locale(connect.locale)
    return branded(connect)


def current_session() -> ConnectSession | None:
    """The session this request is about, once a step has looked it up."""
    connect = g.get("connect_session")
    return connect if isinstance(connect, ConnectSession) else None


def _complete(connect: ConnectSession, calendar: Calendar, grant: Grant) -> None:
    """Mark the session completed by *calendar* (not committed: the caller commits it with the calendar)."""
    now = utcnow()
    connect.status = ConnectStatus.COMPLETED
    connect.result_calendar_id = calendar.id
    connect.used_at = now
    connect.updated_at = now
    connect.error_code = None
    connect.account_email = grant.account_email


def _store(connect: ConnectSession, credentials: AppCredentials, grant: Grant) -> Calendar:
    """Reconnect the named (or deduplication-key) calendar in place, else create a new one.

    Through the calendars service (the API's create), in the current transaction: nothing is
    committed here (``finish`` commits the calendar with the session's completion).
    """
    platform = credentials.platform
    target = connect.calendar or _by_deduplication_key(connect)
    if target is None:
        try:
            return service.create_calendar(
                project=connect.project,
                platform=platform,
                client_id=credentials.client_id,
                client_secret=credentials.client_secret,
                refresh_token=grant.refresh_token,
                metadata=connect.meta,
                deduplication_key=connect.deduplication_key,
                commit=False,
            )
        except DuplicateDeduplicationKey:  # created concurrently by another door: reconnect that one
            db.session.rollback()  # the failed INSERT ends the transaction (nothing else was in it)
            target = _by_deduplication_key(connect)
            if target is None:
                raise
    if target.platform != platform or target.client_id != credentials.client_id:
        raise ConnectFailure("client_misconfigured", platform=platform)
    previous = _known_account(target)
    if previous and grant.account_email and previous.lower() != grant.account_email.lower():
        raise ConnectFailure("account_mismatch", platform=platform)
    # The old Google token is not revoked: revoking may kill its siblings (providers.md 1.7).
    return service.reconnect_calendar(
        calendar=target,
        client_secret=credentials.client_secret,
        refresh_token=grant.refresh_token,
        metadata=connect.meta,
    )


def _by_deduplication_key(connect: ConnectSession) -> Calendar | None:
    if connect.deduplication_key is None:
        return None
    return db.session.scalar(
        select(Calendar).where(
            Calendar.project_id == connect.project_id, Calendar.deduplication_key == connect.deduplication_key
        )
    )


def _known_account(calendar: Calendar) -> str | None:
    """The account that last connected *calendar* through this flow (None for API-made calendars)."""
    return db.session.scalar(
        select(ConnectSession.account_email)
        .where(
            ConnectSession.result_calendar_id == calendar.id,
            ConnectSession.status == ConnectStatus.COMPLETED,
            ConnectSession.account_email.is_not(None),
        )
        .order_by(ConnectSession.used_at.desc())
        .limit(1)
    )


def _login_hint(connect: ConnectSession) -> str | None:
    if connect.calendar is None:
        return None
    known = _known_account(connect.calendar)
    if known:
        return known
    uuid = connect.calendar.platform_uuid
    return uuid if uuid and "@" in uuid else None


def _claim(connect: ConnectSession, state: str) -> bool:
    """Atomically take this state's callback (one conditional UPDATE, so two requests cannot both win)."""
    result = db.session.execute(
        update(ConnectSession)
        .where(
            ConnectSession.id == connect.id,
            ConnectSession.oauth_state == state,
            ConnectSession.callback_claimed_at.is_(None),
        )
        .values(callback_claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    claimed = getattr(result, "rowcount", 0) == 1
    db.session.refresh(connect)
    return claimed


def _outcome_of_claimed(connect: ConnectSession, token: str) -> str:
    """Another request has this state: wait briefly for its outcome and show the same result."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while True:
        db.session.refresh(connect)
        if connect.status == ConnectStatus.COMPLETED:
            return token
        if connect.status in (ConnectStatus.FAILED, ConnectStatus.EXPIRED):
            code = connect.error_code or SESSION_EXPIRED
            raise ConnectFailure(code, platform=connect.attempt_platform, retry_token=_retry_token(connect, token))
        if time.monotonic() >= deadline:
            raise ConnectFailure(
                "code_redemption_failed", platform=connect.attempt_platform, retry_token=_retry_token(connect, token)
            )
        db.session.rollback()
        time.sleep(0.2)


def _fail(connect: ConnectSession, code: str) -> None:
    connect.status = ConnectStatus.FAILED
    connect.error_code = code
    connect.updated_at = utcnow()
    db.session.commit()


def _retry_token(connect: ConnectSession, token: str) -> str | None:
    """The token again, when the session can still start a new attempt."""
    if connect.status == ConnectStatus.COMPLETED or sessions.effective_status(connect) == "expired":
        return None
    return token
