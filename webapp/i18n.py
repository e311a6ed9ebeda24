"""The end user's language (Flask-Babel): the connect session's ``locale``, else the browser's, else English.

Only the end-user pages under /connect/ are translated; every other page (the dashboard) stays English.
The catalogs are ``webapp/translations/<lang>/LC_MESSAGES/messages.po``, compiled to ``.mo`` by
``bin/bootstrap``; without the compiled files the pages fall back to English.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel, get_locale, refresh

from webapp.connect.urls import CONNECT_PREFIX


class Locale(StrEnum):
    """The languages of the end-user pages: a connect session's ``locale`` is one of them."""

    EN = "en"
    DE = "de"
    FR = "fr"
    ES = "es"
    JA = "ja"


DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES = tuple(str(code) for code in Locale)
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = Babel()
log = logging.getLogger(__name__)


def N_(message: str) -> str:  # gettext's conventional marker name, which ``pybabel extract`` finds
    """Marks *message* for extraction; it is translated where it is shown."""
    return message


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)
    directory = Path(str(app.config["BABEL_TRANSLATION_DIRECTORIES"]).split(";")[0])
    app.extensions["page_locales"] = compiled_locales(directory)
    missing = [lang for lang in SUPPORTED_LOCALES if lang not in app.extensions["page_locales"]]
    if missing:
        log.warning("No compiled translations for %s under %s (run bin/bootstrap): English instead", missing, directory)
    app.context_processor(lambda: {"page_lang": str(get_locale() or DEFAULT_LOCALE)})


def compiled_locales(directory: Path) -> tuple[str, ...]:
    """English and the supported languages whose catalog is compiled (a page in a language without
    its ``.mo`` would mix English text with that language's dates and ``lang`` attribute)."""
    return tuple(
        lang
        for lang in SUPPORTED_LOCALES
        if lang == DEFAULT_LOCALE or (directory / lang / "LC_MESSAGES" / "messages.mo").is_file()
    )


def forget_the_page(error: BaseException | None = None) -> None:
    """At the end of each consent-flow request (the onboarding blueprint's teardown, so no other
    request pays for it): an app context can outlive one request (requests made inside one), and the
    language and connect session chosen for this page must not carry over to the next."""
    for name in ("_flask_babel", "connect_locale", "connect_session"):
        g.pop(name, None)


def select_locale() -> str:
    """The language of this request's page (Flask-Babel asks once per request)."""
    if not has_request_context() or not request.path.startswith(CONNECT_PREFIX + "/"):
        return DEFAULT_LOCALE
    available: tuple[str, ...] = current_app.extensions.get("page_locales", (DEFAULT_LOCALE,))
    chosen = g.get("connect_locale")
    if chosen:
        return str(chosen) if chosen in available else DEFAULT_LOCALE
    return request.accept_languages.best_match(available) or DEFAULT_LOCALE


def use_session_locale(locale: str | None) -> None:
    """The page about to be rendered belongs to a connect session created with *locale*."""
    if locale:
        g.connect_locale = locale
        refresh()  # a locale Flask-Babel already chose for this request is chosen again
