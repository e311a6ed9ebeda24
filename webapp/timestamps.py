"""The one format for times the service shows to machines: ISO 8601 UTC, microseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime | None) -> str | None:
    """``2026-01-02T03:04:05.000006Z``, or None for no time (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # stored times are already UTC: the common case skips the conversion
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
