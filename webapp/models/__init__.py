"""Every model and enum, one module per aggregate."""

from webapp.models.calendar import Calendar, CalendarState, Platform
from webapp.models.event import CalendarEvent, CalendarStateChange, SyncAttempt
from webapp.models.project import ApiKey, Project

__all__ = [
    "ApiKey",
    "Calendar",
    "CalendarEvent",
    "CalendarState",
    "CalendarStateChange",
    "Platform",
    "Project",
    "SyncAttempt",
]
