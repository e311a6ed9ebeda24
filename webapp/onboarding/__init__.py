"""The onboarding flow: connect sessions, per-project OAuth apps and the browser consent pages.

The calendar row itself is only ever written by ``webapp.calendars.service``.
"""
