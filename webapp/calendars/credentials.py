"""Check credentials with the provider before storing them (``?validate=true``)."""

from __future__ import annotations

from webapp.errors import FieldErrors
from webapp.extensions import utcnow
from webapp.models import Platform

# Which request field a rejection points at.
_FIELD_FOR_CODE = {
    "client_secret_invalid": "client_secret",
    "client_deleted": "client_id",
    "client_misconfigured": "client_id",
}


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
