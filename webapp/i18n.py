"""The end user's language (Flask-Babel): the connect session's ``locale``, else the browser's, else English.

Only the end-user pages under /connect/ are translated; every other page (the dashboard) stays English.
The catalogs are ``webapp/translations/<lang>/LC_MESSAGES/messages.po``, compiled to ``.mo`` by
``bin/bootstrap``; without the compiled files the pages fall back to English.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_request_context, request
from flask_babel import Babel, get_locale, refresh

from webapp.onboarding.urls import CONNECT_PREFIX

DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES = ("en", "de", "fr", "es", "ja")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = Babel()


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name, found by ``pybabel extract``)
    """Marks *message* for extraction; it is translated where it is shown."""
    return message


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.context_processor(lambda: {"page_lang": str(get_locale() or DEFAULT_LOCALE)})


def select_locale() -> str:
    """The language of this request's page (Flask-Babel asks once per request)."""
    if not has_request_context() or not request.path.startswith(CONNECT_PREFIX + "/"):
        return DEFAULT_LOCALE
    chosen = g.get("connect_locale")
    if chosen in SUPPORTED_LOCALES:
        return str(chosen)
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE


def use_session_locale(locale: str | None) -> None:
    """The page about to be rendered belongs to a connect session created with *locale*."""
    if locale:
        g.connect_locale = locale
        refresh()  # a locale Flask-Babel already chose for this request is chosen again
