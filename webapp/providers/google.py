"""Google: token refresh (no rotation, never ``scope``), the primary calendar, and events by syncToken."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from flask import current_app

from webapp.models import Platform
from webapp.providers.base import (
    EventData,
    EventListing,
    TokenSet,
    Window,
    call,
    parse_datetime,
    refresh_access_token,
    rfc3339,
    trim_raw,
)
from webapp.providers.failures import ProviderFailure, classify_google_api_error, classify_google_token_error
from webapp.sync.meeting_urls import google_meeting_url

PAGE_SIZE = 2500


class GoogleProvider:
    platform = Platform.GOOGLE

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self.token_url = current_app.config["GOOGLE_TOKEN_URL"]
        self.api = current_app.config["GOOGLE_CALENDAR_API_URL"].rstrip("/")

    def refresh(self, *, client_id: str, client_secret: str, refresh_token: str) -> TokenSet:
        """Refresh without ``scope`` (Google may reject it, and granular consent may have narrowed it)."""
        return refresh_access_token(
            self.session,
            self.token_url,
            provider="google",
            classify=classify_google_token_error,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
        )

    def _get(self, access_token: str, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = call(
            self.session,
            "GET",
            f"{self.api}/{path}",
            provider="google",
            classify=classify_google_api_error,
            params=params,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        data: dict[str, Any] = response.json()
        return data

    def primary_calendar_id(self, access_token: str) -> str:
        """The primary calendar's id (the account's email address)."""
        return str(self._get(access_token, "calendars/primary")["id"])

    def list_events(
        self, *, access_token: str, calendar_id: str | None, sync_state: dict[str, Any] | None, window: Window
    ) -> EventListing:
        """Incremental by syncToken when the stored token covers this window; a full listing otherwise.

        A 410 (token too old) drops the token and lists the window again.
        """
        path = f"calendars/{quote(calendar_id or 'primary', safe='')}/events"
        base = {"singleEvents": "true", "showDeleted": "true", "maxResults": str(PAGE_SIZE)}
        token = (sync_state or {}).get("sync_token")
        if token and (sync_state or {}).get("window_start") == rfc3339(window.start)[:10]:
            try:
                return self._pages(access_token, path, {**base, "syncToken": token}, window, complete=False)
            except ProviderFailure as exc:
                if exc.failure.code != "sync_state_lost":
                    raise
        full = {**base, "timeMin": rfc3339(window.start), "timeMax": rfc3339(window.end)}
        return self._pages(access_token, path, full, window, complete=True)

    def _pages(
        self, access_token: str, path: str, params: dict[str, str], window: Window, *, complete: bool
    ) -> EventListing:
        events: list[EventData] = []
        calls = 0
        page_token: str | None = None
        while True:
            page = self._get(access_token, path, {**params, **({"pageToken": page_token} if page_token else {})})
            calls += 1
            events.extend(normalize(item) for item in page.get("items", []))
            page_token = page.get("nextPageToken")
            if not page_token:
                # Google puts nextSyncToken on the last page only; keep it with the window it covers.
                state = {"sync_token": page.get("nextSyncToken"), "window_start": rfc3339(window.start)[:10]}
                return EventListing(events=events, sync_state=state, complete=complete, calls=calls)

    def watch(
        self, *, access_token: str, calendar_id: str | None, channel_id: str, secret: str, address: str
    ) -> tuple[str, datetime]:
        """Open an events.watch channel; returns its resourceId and the expiry Google chose."""
        response = call(
            self.session,
            "POST",
            f"{self.api}/calendars/{quote(calendar_id or 'primary', safe='')}/events/watch",
            provider="google",
            classify=classify_google_api_error,
            json={"id": channel_id, "type": "web_hook", "address": address, "token": secret},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        body = response.json()
        return str(body["resourceId"]), datetime.fromtimestamp(int(body["expiration"]) / 1000, UTC)

    def stop_channel(self, *, access_token: str, channel_id: str, resource_id: str | None) -> None:
        call(
            self.session,
            "POST",
            f"{self.api}/channels/stop",
            provider="google",
            classify=classify_google_api_error,
            json={"id": channel_id, "resourceId": resource_id},
            headers={"Authorization": f"Bearer {access_token}"},
        )


def _when(value: dict[str, Any] | None) -> datetime | None:
    if not value:
        return None
    if value.get("dateTime"):
        return parse_datetime(value["dateTime"])
    if value.get("date"):
        return datetime.fromisoformat(value["date"]).replace(tzinfo=UTC)
    return None


def normalize(item: dict[str, Any]) -> EventData:
    """A Google event resource to EventData; a cancelled event is a soft delete."""
    attendees = [
        {"email": a.get("email"), "name": a.get("displayName")}
        for a in item.get("attendees", [])
        if isinstance(a, dict)
    ]
    return EventData(
        platform_uuid=str(item["id"]),
        is_deleted=item.get("status") == "cancelled",
        name=item.get("summary"),
        start_time=_when(item.get("start")),
        end_time=_when(item.get("end")),
        attendees=attendees,
        ical_uid=item.get("iCalUID"),
        meeting_url=google_meeting_url(item),
        raw=trim_raw(item),
    )
