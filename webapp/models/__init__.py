"""Every model and enum, one module per aggregate."""

from webapp.models.calendar import Calendar, CalendarState, Platform
from webapp.models.project import ApiKey, Project

__all__ = ["ApiKey", "Calendar", "CalendarState", "Platform", "Project"]
