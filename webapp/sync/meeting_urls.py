"""Find the Zoom, Google Meet or Microsoft Teams join URL of a calendar event.

The provider's own conference entry (Google's ``conferenceData`` video entry point, Microsoft's
``onlineMeeting.joinUrl``) is the meeting URL as given, whatever its shape: the provider put it
there. Other fields (``hangoutLink``, location, description or body, title) are searched, in that
order, with the stricter patterns below. Pure functions, no I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

__all__ = ["extract_meeting_url", "google_meeting_url", "microsoft_meeting_url"]

# Characters that end a URL in running text or markup.
_URL_CHARS: Final = r"[^\s<>\"'`\[\]{}|\\^]"
_QUERY: Final = rf"(?:[?#]{_URL_CHARS}*)?"

_MEETING_URL: Final = re.compile(
    "|".join(
        (
            # Zoom: <sub>.zoom.us or zoomgov.com; /j/, /s/, /w/ + meeting id, or /my/<personal link>
            rf"https://(?:[a-z0-9-]+\.)*(?:zoom\.us|zoomgov\.com)/(?:[jsw]/\d+|my/[a-z0-9._-]+){_QUERY}",
            # Google Meet: meet.google.com/abc-defg-hij
            rf"https://meet\.google\.com/[a-z]{{3}}-[a-z]{{4}}-[a-z]{{3}}(?![a-z-]){_QUERY}",
            # Teams (work, government clouds, short /meet/ links) and Teams for personal accounts
            rf"https://(?:[a-z0-9-]+\.)?teams\.microsoft\.(?:com|us)/(?:l/meetup-join|meet)/{_URL_CHARS}+",
            rf"https://teams\.live\.com/meet/{_URL_CHARS}+",
        )
    ),
    re.IGNORECASE,
)
_TRAILING: Final = ".,;:!?)]}>'\"*"

# Link wrappers that hide the real URL percent-encoded in a query parameter.
_WRAPPED: Final = re.compile(
    rf"https://(?:[a-z0-9-]+\.safelinks\.protection\.outlook\.com|www\.google\.com/url)/?\?{_URL_CHARS}+",
    re.IGNORECASE,
)
_WRAPPER_PARAMS: Final = ("url", "q")


def _unwrap(match: re.Match[str]) -> str:
    """Replace an Outlook Safe Links or Google redirect URL by the URL it points to."""
    query = parse_qs(urlsplit(match.group(0)).query)
    for name in _WRAPPER_PARAMS:
        for value in query.get(name, []):
            if value.lower().startswith("https://"):
                return f" {value} "
    return match.group(0)


def _clean(url: str) -> str:
    return url.rstrip(_TRAILING)


def _find(text: str) -> str | None:
    text = html.unescape(text)  # bodies are often HTML: "&amp;" inside href attributes
    text = _WRAPPED.sub(_unwrap, text)
    match = _MEETING_URL.search(text)
    return _clean(match.group(0)) if match else None


def extract_meeting_url(*texts_or_sources: str | None) -> str | None:
    """The first meeting URL found, trying the sources in the order given (earliest match in each)."""
    for text in texts_or_sources:
        if isinstance(text, str) and text:
            found = _find(text)
            if found:
                return found
    return None


def _as_given(value: Any) -> str | None:
    """A provider's own join URL, kept as it is when it is an http(s) URL at all."""
    if isinstance(value, str):
        text = value.strip()
        if text.lower().startswith(("https://", "http://")) and not any(c.isspace() for c in text):
            return text
    return None


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _strings(values: Iterable[Any]) -> list[str | None]:
    return [v if isinstance(v, str) else None for v in values]


def google_meeting_url(event: Mapping[str, Any]) -> str | None:
    """Google Calendar event: ``conferenceData`` video entry points, ``hangoutLink``, then free text."""
    entry_points = _get(event, "conferenceData", "entryPoints")
    if isinstance(entry_points, list):
        for ep in entry_points:
            if isinstance(ep, Mapping) and ep.get("entryPointType") == "video" and (url := _as_given(ep.get("uri"))):
                return url
    return extract_meeting_url(
        *_strings(
            [
                event.get("hangoutLink"),
                event.get("location"),
                event.get("description"),
                event.get("summary"),
            ]
        ),
    )


def microsoft_meeting_url(event: Mapping[str, Any]) -> str | None:
    """Graph event: ``onlineMeeting.joinUrl``, ``onlineMeetingUrl``, then location, body and subject."""
    joined = _as_given(_get(event, "onlineMeeting", "joinUrl"))
    if joined:
        return joined
    locations = event.get("locations")
    extra_locations: list[Any] = []
    if isinstance(locations, list):
        extra_locations = [_get(loc, "displayName") for loc in locations]
        extra_locations += [_get(loc, "locationUri") for loc in locations]
    return extract_meeting_url(
        *_strings(
            [
                event.get("onlineMeetingUrl"),
                _get(event, "location", "displayName"),
                _get(event, "location", "locationUri"),
                *extra_locations,
                _get(event, "body", "content"),
                event.get("bodyPreview"),
                event.get("subject"),
            ]
        )
    )
