"""The service's two ways of showing a time: ISO 8601 UTC for machines, relative wording for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def iso(value: datetime | None) -> str | None:
    """``2026-01-02T03:04:05.000006Z``, or None for no time (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # stored times are already UTC: the common case skips the conversion
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    """``20 seconds ago``, ``3 minutes ago``, ``in 2 hours``, in the page's language (Flask-Babel picks it:
    English on the dashboard, the session's or browser's language on the consent pages).

    Babel's CLDR wording rounds to the largest whole unit, so every page words a time alike."""
    from flask_babel import format_timedelta, gettext  # loaded with the app; imported here for the API's readers

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elapsed = (now or datetime.now(UTC)) - moment
    if abs(elapsed) < timedelta(seconds=1):
        return str(gettext("just now"))
    return str(format_timedelta(-elapsed, threshold=1, add_direction=True))
