"""Provider clients, one per platform, built per sync with the caller's HTTP session; the consent
flow's Authlib clients are ``oauth``; the failure taxonomy both share is ``failures``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from webapp.models import Platform

if TYPE_CHECKING:  # the package is imported for its failure taxonomy too; HTTP comes with a provider
    import requests

    from webapp.providers.base import EventListing, TokenSet, Window


class Provider(Protocol):
    platform: Platform

    def refresh(self, *, client_id: str, client_secret: str, refresh_token: str) -> TokenSet: ...

    def primary_calendar_id(self, access_token: str) -> str: ...

    def list_events(
        self, *, access_token: str, calendar_id: str | None, sync_state: dict[str, Any] | None, window: Window
    ) -> EventListing: ...


def get_provider(platform: Platform, session: requests.Session) -> Provider:
    """The client for *platform* (endpoints come from the app's settings)."""
    from webapp.providers.google import GoogleProvider
    from webapp.providers.microsoft import MicrosoftProvider

    if platform == Platform.GOOGLE:
        return GoogleProvider(session)
    return MicrosoftProvider(session)
