"""Local stand-ins for Google and Microsoft (OAuth and calendar APIs) for tests, demos and CI.

``create_google_app`` and ``create_microsoft_app`` build one small Flask app per provider, each
with its own in-memory state (``emulator.state.ProviderState``) and a control API under
``/__emulator__/``. ``emulator.servers`` runs both on loopback addresses. This package never
imports the service (``webapp``).
"""

from __future__ import annotations

from flask import Flask

from emulator.state import ProviderState


def create_google_app(state: ProviderState | None = None) -> Flask:
    from emulator.google import create_google_app as factory

    return factory(state)


def create_microsoft_app(state: ProviderState | None = None) -> Flask:
    from emulator.microsoft import create_microsoft_app as factory

    return factory(state)


__all__ = ["ProviderState", "create_google_app", "create_microsoft_app"]
