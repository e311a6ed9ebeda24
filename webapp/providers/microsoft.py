"""Microsoft: refresh with rotation, the default calendar, and events by calendarView/delta."""

from __future__ import annotations

from datetime import datetime
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
from webapp.providers.failures import ProviderFailure, classify_graph_error, classify_microsoft_token_error
from webapp.sync.meeting_urls import microsoft_meeting_url

PREFER = 'outlook.timezone="UTC", odata.maxpagesize=200'


class MicrosoftProvider:
    platform = Platform.MICROSOFT

    def __init__(self, session: requests.Session, tenant: str | None = None) -> None:
        self.session = session
        login = current_app.config["MICROSOFT_LOGIN_URL"].rstrip("/")
        self.token_url = f"{login}/{tenant or current_app.config['MICROSOFT_TENANT']}/oauth2/v2.0/token"
        self.graph = current_app.config["MICROSOFT_GRAPH_URL"].rstrip("/")

    def refresh(self, *, client_id: str, client_secret: str, refresh_token: str) -> TokenSet:
        """Every successful refresh returns a new refresh token; the caller must store it at once."""
        return refresh_access_token(
            self.session,
            self.token_url,
            provider="microsoft",
            classify=classify_microsoft_token_error,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
        )

    def _get(self, access_token: str, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = call(
            self.session,
            "GET",
            url,
            provider="microsoft",
            classify=classify_graph_error,
            params=params,
            headers={"Authorization": f"Bearer {access_token}", "Prefer": PREFER},
        )
        data: dict[str, Any] = response.json()
        return data

    def primary_calendar_id(self, access_token: str) -> str:
        return str(self._get(access_token, f"{self.graph}/me/calendar")["id"])

    def list_events(
        self, *, access_token: str, calendar_id: str | None, sync_state: dict[str, Any] | None, window: Window
    ) -> EventListing:
        """Primary calendar: a delta round (the stored deltaLink, or a new round for a new window).

        Other calendars: a full calendarView listing (Graph v1.0 has delta only for the primary view).
        A lost delta state (410, syncStateNotFound) starts a new round.
        """
        params = {"startDateTime": rfc3339(window.start), "endDateTime": rfc3339(window.end)}
        if calendar_id is not None:
            url = f"{self.graph}/me/calendars/{quote(calendar_id, safe='')}/calendarView"
            return self._pages(access_token, url, params, complete=True, window=None)
        delta_link = (sync_state or {}).get("delta_link")
        if delta_link and (sync_state or {}).get("window_start") == params["startDateTime"][:10]:
            try:
                return self._pages(access_token, delta_link, None, complete=False, window=window)
            except ProviderFailure as exc:
                if exc.failure.code != "sync_state_lost":
                    raise
        url = f"{self.graph}/me/calendarView/delta"
        return self._pages(access_token, url, params, complete=True, window=window)

    def _pages(
        self,
        access_token: str,
        url: str,
        params: dict[str, str] | None,
        *,
        complete: bool,
        window: Window | None,
    ) -> EventListing:
        """Follow nextLinks to the end of the round; keep the deltaLink (with its window) if asked."""
        events: list[EventData] = []
        calls = 0
        next_url: str | None = url
        while next_url:
            # nextLink and deltaLink are followed exactly as given: they carry the query.
            page = self._get(access_token, next_url, params if next_url == url else None)
            calls += 1
            events.extend(normalize(item) for item in page.get("value", []))
            next_url = page.get("@odata.nextLink")
            if not next_url:
                state: dict[str, Any] = {}
                if window is not None and page.get("@odata.deltaLink"):
                    state = {
                        "delta_link": page["@odata.deltaLink"],
                        "window_start": rfc3339(window.start)[:10],
                    }
                return EventListing(events=events, sync_state=state, complete=complete, calls=calls)
        raise AssertionError("unreachable")

    def subscribe(
        self,
        *,
        access_token: str,
        calendar_id: str | None,
        notification_url: str,
        lifecycle_url: str,
        client_state: str,
        expires_at: datetime,
    ) -> tuple[str, datetime]:
        """Create a subscription (Graph runs the validation handshake against both URLs meanwhile)."""
        resource = "me/events" if calendar_id is None else f"me/calendars/{quote(calendar_id, safe='')}/events"
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url,
            "resource": resource,
            "expirationDateTime": rfc3339(expires_at),
            "clientState": client_state,
            "latestSupportedTlsVersion": "v1_2",
        }
        response = self._send("POST", f"{self.graph}/subscriptions", access_token, body)
        data = response.json()
        return str(data["id"]), parse_datetime(data["expirationDateTime"])

    def renew_subscription(self, *, access_token: str, subscription_id: str, expires_at: datetime) -> datetime:
        url = f"{self.graph}/subscriptions/{quote(subscription_id, safe='')}"
        response = self._send("PATCH", url, access_token, {"expirationDateTime": rfc3339(expires_at)})
        return parse_datetime(response.json()["expirationDateTime"])

    def delete_subscription(self, *, access_token: str, subscription_id: str) -> None:
        self._send("DELETE", f"{self.graph}/subscriptions/{quote(subscription_id, safe='')}", access_token, None)

    def _send(self, method: str, url: str, access_token: str, body: dict[str, Any] | None) -> requests.Response:
        return call(
            self.session,
            method,
            url,
            provider="microsoft",
            classify=classify_graph_error,
            json=body,
            headers={"Authorization": f"Bearer {access_token}"},
        )


def normalize(item: dict[str, Any]) -> EventData:
    """A Graph event (or ``@removed`` tombstone) to EventData; times arrive in UTC (Prefer header)."""
    if "@removed" in item:
        return EventData(platform_uuid=str(item["id"]), is_deleted=True, raw=trim_raw(item))
    attendees = []
    for attendee in item.get("attendees", []) or []:
        address = (attendee or {}).get("emailAddress") or {}
        attendees.append({"email": address.get("address"), "name": address.get("name")})
    start, end = item.get("start") or {}, item.get("end") or {}
    return EventData(
        platform_uuid=str(item["id"]),
        is_deleted=bool(item.get("isCancelled")),
        name=item.get("subject"),
        start_time=parse_datetime(start["dateTime"]) if start.get("dateTime") else None,
        end_time=parse_datetime(end["dateTime"]) if end.get("dateTime") else None,
        attendees=attendees,
        ical_uid=item.get("iCalUId"),
        meeting_url=microsoft_meeting_url(item),
        raw=trim_raw(item),
    )
