"""The browser consent pages: an end user picks a provider, consents, and the calendar is created
or reconnected through ``webapp.calendars.service``.

The connect sessions and OAuth apps these pages use are ``webapp.connect``; the Authlib clients
are ``webapp.providers.oauth``.
"""
