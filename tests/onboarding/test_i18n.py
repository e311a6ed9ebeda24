"""The end-user pages in every supported language (Flask-Babel), and the connect session's ``locale``.

Every page an end user can see is rendered in each language and compared, text node by text node,
with its English rendering: a node that stays English (other than names, codes and addresses put in
by the page) is a string nobody wrapped or translated. The catalogs are checked against the strings
extracted from the code and templates, as ``pybabel extract -F babel.cfg`` finds them.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel import dates
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFError

from config import PROJECT_ROOT, TestConfig
from tests.onboarding.conftest import (
    ALLOWED_ORIGIN,
    Providers,
    back_from_provider,
    calendars,
    connect,
    new_session,
    session_row,
    to_provider,
    token_of,
)
from webapp import create_app, error_handlers
from webapp.connect import sessions
from webapp.errors import NotFound
from webapp.extensions import db, utcnow
from webapp.i18n import SUPPORTED_LOCALES, TRANSLATIONS
from webapp.models import CalendarState
from webapp.onboarding import flow, presenters, views
from webapp.projects import service as projects

LANGUAGES = [lang for lang in SUPPORTED_LOCALES if lang != "en"]
URL = "/api/v1/connect_sessions"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|</?[a-z]+>")


def catalog(lang: str) -> Any:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def source_msgids() -> set[str]:
    """What ``pybabel extract -F babel.cfg .`` finds in the code and the end-user templates."""
    with (PROJECT_ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = extract_from_dir(str(PROJECT_ROOT), method_map, options_map)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


# --- the catalogs -------------------------------------------------------------------------------


def test_babel_cfg_extracts_the_end_user_strings() -> None:
    msgids = source_msgids()
    assert {"Connect your calendar", "Access was not granted", "Reconnect", "just now"} <= msgids
    assert len(msgids) > 60


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_has_a_translation(lang: str) -> None:
    translations = {m.id: m for m in catalog(lang) if m.id}
    assert sorted(source_msgids() - set(translations)) == []  # run `pybabel update` after adding strings
    assert sorted(set(translations) - source_msgids()) == []  # no stale entries
    for msgid, message in translations.items():
        assert isinstance(message.string, str) and message.string.strip(), f"{lang}: {msgid!r} untranslated"
        assert not message.fuzzy, f"{lang}: {msgid!r} is fuzzy"
        # Same placeholders and tags: a translation cannot drop the provider's name or break markup.
        assert set(PLACEHOLDER.findall(message.string)) == set(PLACEHOLDER.findall(msgid)), (lang, msgid)


def test_no_compiled_catalog_is_tracked() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().split()
    assert "*.mo" in ignored


# --- every end-user page in every language --------------------------------------------------------


class _Text(HTMLParser):
    """The visible text nodes of a page, and the attributes people read (title, aria-label, alt)."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self.lang: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "aria-label", "alt", "placeholder") and value:
                self.nodes.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._skip:
            self.nodes.append(text)


def parse(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


def untranslated(english: str, other: str, lang: str, dynamic: list[str]) -> list[str]:
    """Text nodes of *other* that are still the English ones (after taking out *dynamic* values)."""
    en, translated = parse(english), parse(other)
    assert translated.lang == lang and en.lang == "en"
    assert len(en.nodes) == len(translated.nodes), (en.nodes, translated.nodes)
    same_on_purpose = {m.string for m in catalog(lang) if m.id and m.string == m.id}  # e.g. German "Status"
    left = []
    for a, b in zip(en.nodes, translated.nodes, strict=True):
        if a != b or a in same_on_purpose:
            continue
        rest = a
        for value in dynamic:
            rest = rest.replace(value, "")
        if re.search(r"[A-Za-z]{2,}", rest):
            left.append(a)
    return left


PROJECT = "Acme"
FAILURE_CODES = [*presenters._TEXTS, "unknown_code"]
# What pages show as given: names, the account, failure codes (a reference to quote), the zone.
DYNAMIC = [PROJECT, "alice@example.com", "Google", "Microsoft", "UTC", *FAILURE_CODES]


@pytest.fixture
def pages(flow_app: Flask, client: FlaskClient, auth: dict[str, str]) -> dict[str, str]:
    """Paths of a choose page and of two status pages (a Google calendar, a Microsoft one never synced)."""
    _, choose_path = new_session(client, auth, redirect_url=f"{ALLOWED_ORIGIN}/done")
    _, done_path = new_session(client, auth, platform="google", redirect_url=f"{ALLOWED_ORIGIN}/done")
    assert connect(client, done_path).response.status_code == 303
    _, never_synced_path = new_session(client, auth, platform="microsoft")
    assert connect(client, never_synced_path).response.status_code == 303
    unconfigured, _ = projects.create_project(name=PROJECT)  # no OAuth app: the choose page says so
    _, no_provider_token = sessions.create_session(project=unconfigured)
    return {
        "choose": choose_path,
        "no provider": f"/connect/{no_provider_token}",
        "done": f"{done_path}/done",
        "never_synced": f"{never_synced_path}/done",
    }


def get(client: FlaskClient, path: str, lang: str) -> str:
    response = client.get(path, headers={"Accept-Language": lang})
    assert response.status_code in (200, 404), response.status_code
    return response.get_data(as_text=True)


def rendered_in(app: Flask, lang: str, render: Any) -> str:
    """A page rendered by its real handler in a request for /connect/…, in *lang*."""
    with app.test_request_context("/connect/some-token", headers={"Accept-Language": lang}):
        response = app.make_response(render())
        return response.get_data(as_text=True)


def every_page(app: Flask, client: FlaskClient, pages: dict[str, str], lang: str) -> dict[str, str]:
    """Every page an end user can see, rendered for a browser that asks for *lang*."""
    (calendar_row,) = [c for c in calendars() if c.platform == "google"]
    calendar_row.last_successful_sync_at = utcnow() - timedelta(minutes=3)
    db.session.commit()
    html = {
        "choose": get(client, pages["choose"], lang),
        "choose (no provider)": get(client, pages["no provider"], lang),
        "status (synced)": get(client, pages["done"], lang),
        "status (never synced)": get(client, pages["never_synced"], lang),
        "404": get(client, "/connect/a/b/c/d", lang),
        "csrf": rendered_in(app, lang, lambda: error_handlers.render_csrf_error(CSRFError())),
        "500": rendered_in(app, lang, lambda: error_handlers.render_unexpected(RuntimeError("boom"))),
        "calendar gone": rendered_in(
            app, lang, lambda: error_handlers.render_app_error(NotFound("This calendar no longer exists."))
        ),
    }
    calendar_row.state = CalendarState.DISCONNECTED.value
    db.session.commit()
    html["status (disconnected)"] = get(client, pages["done"], lang)
    calendar_row.state = CalendarState.CONNECTED.value
    db.session.commit()
    for code in FAILURE_CODES:
        failure = flow.ConnectFailure(code, platform="google", retry_token="t", done_token="d")
        html[f"failure {code}"] = rendered_in(app, lang, lambda f=failure: views.connect_failure(f))
    return html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_end_user_page_is_translated(
    flow_app: Flask, client: FlaskClient, pages: dict[str, str], lang: str
) -> None:
    english = every_page(flow_app, client, pages, "en")
    translated = every_page(flow_app, client, pages, lang)
    assert english.keys() == translated.keys() and len(english) > 25
    problems = {
        name: left for name in english if (left := untranslated(english[name], translated[name], lang, DYNAMIC))
    }
    assert problems == {}
    assert "Your calendar is connected" in english["status (synced)"]
    assert "3 minutes ago" in english["status (synced)"]
    assert "No calendar provider is set up for Acme" in english["choose (no provider)"]


@pytest.mark.parametrize(
    ("lang", "heading", "relative"),
    [
        ("de", "Ihr Kalender ist verbunden", "vor 3 Minuten"),
        ("fr", "Votre agenda est connecté", "il y a 3 minutes"),
        ("es", "Tu calendario está conectado", "hace 3 minutos"),
        ("ja", "カレンダーが接続されました", "3 分前"),
    ],
)
def test_status_page_dates_are_localised(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], lang: str, heading: str, relative: str
) -> None:
    _, path = new_session(client, auth, platform="google", locale=lang)
    connect(client, path)
    (calendar_row,) = calendars()
    calendar_row.last_successful_sync_at = utcnow() - timedelta(minutes=3)
    db.session.commit()
    html = client.get(f"{path}/done").get_data(as_text=True)
    assert heading in html and relative in html
    assert f'<html lang="{lang}">' in html
    assert "ago" not in html
    exact = re.search(r'<time datetime="[^"]+" title="([^"]+)"', html)
    assert exact is not None and exact.group(1).endswith(" UTC")
    moment = calendar_row.last_successful_sync_at.replace(tzinfo=UTC)
    assert exact.group(1) == f"{dates.format_datetime(moment, 'medium', tzinfo=UTC, locale=lang)} UTC"
    assert exact.group(1) != f"{dates.format_datetime(moment, 'medium', tzinfo=UTC, locale='en')} UTC"


# --- choosing the language ----------------------------------------------------------------------


def heading_and_lang(client: FlaskClient, path: str, **headers: str) -> tuple[str, str]:
    html = client.get(path, headers=headers).get_data(as_text=True)
    title = re.search(r"<h1>(.*?)</h1>", html)
    lang = re.search(r'<html lang="([^"]+)">', html)
    assert title is not None and lang is not None
    return title.group(1), lang.group(1)


def test_the_session_locale_wins_over_the_browser(flow_app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    _, path = new_session(client, auth, locale="fr")
    assert heading_and_lang(client, path, **{"Accept-Language": "de-DE,de;q=0.9"}) == ("Connectez votre agenda", "fr")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.5", ("Kalender verbinden", "de")),
        ("ja", ("カレンダーを接続", "ja")),
        ("pt-BR,fr;q=0.8", ("Connectez votre agenda", "fr")),
        ("es-419", ("Conecta tu calendario", "es")),
        ("pt-BR,pt;q=0.9", ("Connect your calendar", "en")),  # nothing supported: English
    ],
)
def test_without_a_session_locale_the_browser_language_is_used(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], accept: str, expected: tuple[str, str]
) -> None:
    _, path = new_session(client, auth)
    assert heading_and_lang(client, path, **{"Accept-Language": accept}) == expected


def test_english_by_default(flow_app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    _, path = new_session(client, auth)
    assert heading_and_lang(client, path) == ("Connect your calendar", "en")


def test_the_locale_follows_the_flow_to_the_status_page_and_its_reconnect(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    _, path = new_session(client, auth, platform="google", locale="es")
    hop = connect(client, path)
    assert hop.response.status_code == 303
    done = hop.response.headers["Location"]
    assert heading_and_lang(client, done) == ("Tu calendario está conectado", "es")
    (calendar_row,) = calendars()
    calendar_row.state = CalendarState.DISCONNECTED.value
    db.session.commit()
    assert heading_and_lang(client, done)[0] == "Tu calendario está desconectado"
    response = client.post(f"{path}/reconnect")
    assert response.status_code == 303
    reconnect_session = sessions.by_token(token_of(urlsplit(response.headers["Location"]).path))
    assert reconnect_session is not None and reconnect_session.locale == "es"


def test_a_failure_page_is_in_the_session_language(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers
) -> None:
    providers.google.settings(auto_approve=False)
    _, path = new_session(client, auth, platform="google", locale="de")
    hop = back_from_provider(client, to_provider(client, path), account="alice@example.com", decision="deny")
    assert hop.response.status_code == 400
    html = hop.response.get_data(as_text=True)
    assert "Der Zugriff wurde nicht erlaubt" in html and "Google" in html and '<html lang="de">' in html


def test_the_dashboard_stays_english(app: Flask, client: FlaskClient) -> None:
    """No dashboard string is wrapped; its pages also say so (``lang``) whatever the browser asks."""
    html = client.get("/dashboard/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in html


def test_without_compiled_catalogs_the_pages_are_english(app: Flask, tmp_path: Path) -> None:
    """A checkout where bin/bootstrap has not compiled the .po files still serves every page, in English."""
    other = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'i18n.db'}",
        BABEL_TRANSLATION_DIRECTORIES=str(tmp_path / "no-translations"),
    )
    assert other.extensions["page_locales"] == ("en",)
    with other.test_request_context("/connect/x", headers={"Accept-Language": "de"}):
        response = other.make_response(views.connect_failure(flow.ConnectFailure("access_denied", platform="google")))
        html = response.get_data(as_text=True)
    assert "Access was not granted" in html and '<html lang="en">' in html


# --- the API field --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", SUPPORTED_LOCALES)
def test_locale_is_stored_and_echoed(client: FlaskClient, auth: dict[str, str], lang: str) -> None:
    response = client.post(URL, json={"locale": lang}, headers=auth)
    assert response.status_code == 201
    body = response.get_json()
    assert list(body) == ["id", "url", "expires_at"]  # the created answer's shape does not change
    shown = client.get(f"{URL}/{body['id']}", headers=auth).get_json()
    assert shown["locale"] == lang and list(shown)[-1] == "locale"
    assert session_row(body["id"]).locale == lang


def test_without_locale_the_session_shows_null(client: FlaskClient, auth: dict[str, str]) -> None:
    body = client.post(URL, json={}, headers=auth).get_json()
    assert "locale" not in body
    assert client.get(f"{URL}/{body['id']}", headers=auth).get_json()["locale"] is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pt", '"pt" is not a valid choice.'),
        ("de-DE", '"de-DE" is not a valid choice.'),
        ("EN", '"EN" is not a valid choice.'),
        ("", '"" is not a valid choice.'),
        (7, '"7" is not a valid choice.'),
        (["de"], "\"['de']\" is not a valid choice."),
        (None, "This field may not be null."),
    ],
)
def test_an_unsupported_locale_is_a_field_error(
    client: FlaskClient, auth: dict[str, str], value: Any, message: str
) -> None:
    response = client.post(URL, json={"locale": value, "metadata": {"k": "v"}}, headers=auth)
    assert response.status_code == 400
    assert response.get_json() == {"locale": [message]}


def test_the_openapi_document_describes_locale(client: FlaskClient) -> None:
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["ConnectSessionCreate"]["properties"]["locale"]["enum"] == list(SUPPORTED_LOCALES)
    assert "locale" not in schemas["ConnectSessionCreate"].get("required", [])
    assert schemas["ConnectSession"]["properties"]["locale"]["enum"] == [*SUPPORTED_LOCALES, None]
