"""A calendar's credentials: the one function that writes them, and the provider check before storing
them (``?validate=true``)."""

from __future__ import annotations

from datetime import datetime

from webapp import crypto
from webapp.errors import FieldErrors
from webapp.extensions import utcnow
from webapp.models import Calendar, Platform

# Which request field a rejection points at.
_FIELD_FOR_CODE = {
    "client_secret_invalid": "client_secret",
    "client_deleted": "client_id",
    "client_misconfigured": "client_id",
}


def write_credentials(
    calendar: Calendar,
    *,
    now: datetime | None = None,
    client_secret: str | None = None,
    refresh_token: str | None = None,
    access_token: str | None = None,
    access_token_expires_at: datetime | None = None,
    reencrypt: bool = False,
) -> None:
    """Set the calendar's credential columns; the caller commits. Every writer goes through here:
    creation and ``update_calendar`` (webapp.calendars.service), the sync's token refresh
    (webapp.sync.jobs) and ``flask crypto rotate``.

    Given plaintexts are encrypted under the newest key (None = unchanged). A new refresh token
    restarts its age (``refresh_token_issued_at``, read by the Testing-mode check); a new client
    secret or refresh token voids the stored access token, issued to the old ones, unless a new one
    comes with it.

    *reencrypt* instead re-encrypts what is stored under the newest key, keeping each token's
    original timestamp. An access token that no longer decrypts is dropped (it is only a cache).

    :raises crypto.InvalidToken: *reencrypt*, and the client secret or refresh token no longer
        decrypts; nothing is changed (never overwrite what cannot be read).
    """
    if reencrypt:
        secret, token = (
            crypto.rotate(calendar.client_secret_ciphertext),
            crypto.rotate(calendar.refresh_token_ciphertext),
        )
        calendar.client_secret_ciphertext, calendar.refresh_token_ciphertext = secret, token
        if calendar.access_token_ciphertext is not None:
            try:
                calendar.access_token_ciphertext = crypto.rotate(calendar.access_token_ciphertext)
            except crypto.InvalidToken:
                calendar.access_token_ciphertext = calendar.access_token_expires_at = None
        return
    if client_secret is not None:
        calendar.client_secret_ciphertext = crypto.encrypt(client_secret)
    if refresh_token is not None:
        calendar.refresh_token_ciphertext = crypto.encrypt(refresh_token)
        calendar.refresh_token_issued_at = now or utcnow()
    if access_token is not None:
        calendar.access_token_ciphertext = crypto.encrypt(access_token)
        calendar.access_token_expires_at = access_token_expires_at
    elif client_secret is not None or refresh_token is not None:
        calendar.access_token_ciphertext = calendar.access_token_expires_at = None


class CredentialsRejected(FieldErrors):
    """The provider refused the credentials; the failure object sits under the field at fault."""


def checked_refresh_token(*, platform: Platform, client_id: str, client_secret: str, refresh_token: str) -> str:
    """Refresh once with the provider and return the refresh token to store.

    Microsoft rotates refresh tokens on every refresh, so the new one is returned in that case.

    :raises CredentialsRejected: the provider refused them (or could not be reached).
    """
    # Imported here: web workers that never validate stay without the HTTP and provider code.
    import requests

    from webapp.providers import get_provider
    from webapp.providers.failures import ProviderFailure, failure_data

    with requests.Session() as session:
        provider = get_provider(platform, session)
        try:
            tokens = provider.refresh(client_id=client_id, client_secret=client_secret, refresh_token=refresh_token)
        except ProviderFailure as exc:
            field = _FIELD_FOR_CODE.get(exc.failure.code, "refresh_token")
            detail = failure_data(exc.failure, now=utcnow(), attempts=1, first_failed_at=None)
            raise CredentialsRejected({field: [detail]}) from None
    return tokens.refresh_token or refresh_token
