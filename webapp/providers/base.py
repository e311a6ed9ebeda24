"""What every provider client returns; a failed call raises ``failures.ProviderFailure``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from webapp.observability.metrics import record_token_refresh
from webapp.providers.failures import Failure, ProviderFailure, network_failure

# Connect and read timeouts for every provider call.
TIMEOUT = (5.0, 30.0)
RAW_TEXT_LIMIT = 8000


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None  # None when the provider did not rotate it (Google)
    expires_in: int
    scope: str | None


@dataclass(frozen=True)
class EventData:
    """One event as the provider describes it, normalised. ``start_time`` is None for bare tombstones."""

    platform_uuid: str
    is_deleted: bool
    name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    attendees: list[dict[str, Any]] = field(default_factory=list)
    ical_uid: str | None = None
    meeting_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventListing:
    """The result of one listing round.

    ``complete`` is True for a full listing of the window: events stored in the window but absent
    from it are gone at the provider. ``sync_state`` is what the next round starts from.
    """

    events: list[EventData]
    sync_state: dict[str, Any]
    complete: bool
    calls: int


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def contains(self, start: datetime | None, end: datetime | None) -> bool:
        if start is None or end is None:
            return False
        return end > self.start and start < self.end


Classifier = Callable[[int | None, Any, Mapping[str, str] | None], Failure]


def call(
    session: requests.Session,
    method: str,
    url: str,
    *,
    provider: str,
    classify: Classifier,
    **kwargs: Any,
) -> requests.Response:
    """One HTTP call; any failure becomes ProviderFailure with its taxonomy code."""
    try:
        response = session.request(method, url, timeout=TIMEOUT, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise ProviderFailure(network_failure(provider, exc)) from None
    if response.status_code >= 400:
        raise ProviderFailure(classify(response.status_code, _json_or_text(response), response.headers))
    return response


def refresh_access_token(
    session: requests.Session,
    token_url: str,
    *,
    provider: str,
    classify: Classifier,
    client_id: str,
    client_secret: str,
    refresh_token: str,
) -> TokenSet:
    """The OAuth refresh grant, as both providers take it: no ``scope`` (Google may refuse it)."""
    try:
        response = call(
            session,
            "POST",
            token_url,
            provider=provider,
            classify=classify,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
    except ProviderFailure:
        record_token_refresh(provider, "failure")
        raise
    record_token_refresh(provider, "success")
    body = response.json()
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or None,
        expires_in=int(body.get("expires_in", 3600)),
        scope=body.get("scope"),
    )


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


def trim_raw(value: Any) -> Any:
    """The provider payload with long text fields cut to 8000 characters."""
    if isinstance(value, str):
        return value[:RAW_TEXT_LIMIT]
    if isinstance(value, dict):
        return {k: trim_raw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [trim_raw(v) for v in value]
    return value


def rfc3339(value: datetime) -> str:
    """A UTC datetime with an explicit offset, as both providers require."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: str) -> datetime:
    """Parse ISO 8601 (Graph sends 7 fractional digits and no offset; Google sends offsets)."""
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        rest = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
