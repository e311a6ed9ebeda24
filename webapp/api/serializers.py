"""The serializers of objects just written, derived from their declarations (``objects.py``)."""

from __future__ import annotations

from typing import Any

from webapp.api.objects import CALENDAR
from webapp.models import Calendar
from webapp.timestamps import iso

__all__ = ["calendar_json", "iso"]


def calendar_json(calendar: Calendar) -> dict[str, Any]:
    """The calendar object of a Calendar just written; never any secret. Reads get the same object
    rendered by the database (``CALENDAR.document()``; a test pins them equal)."""
    return CALENDAR.serialize(calendar)
