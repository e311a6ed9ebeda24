"""Connect sessions: the domain service behind the hosted consent flow.

Used by the API (``/api/v1/connect_sessions``), the dashboard (Reconnect, OAuth apps, allowed
origins) and the browser consent pages (``webapp.onboarding``):

- ``sessions``: create, look up and expire connect sessions;
- ``apps``: per-project OAuth apps (with instance-wide defaults) and allowed redirect origins;
- ``urls``: the absolute URLs of the consent pages and of the OAuth callbacks.
"""
