"""LOG_FORMAT, request ids on log lines (the 500's error id included), and the redaction rules, row by row."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from gunicorn.config import Config as GunicornConfig

from config import ConfigurationError, TestConfig, load_settings
from webapp import create_app
from webapp.observability import logs
from webapp.observability.gunicorn import Logger as AccessLogger
from webapp.observability.redact import redact_query, redact_text, redact_url


class Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(logs.ContextFilter())
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    handler = Lines(logs.JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.fixture
def failing_app() -> Flask:
    """An app with a route that fails unexpectedly (added before its first request)."""
    app = create_app(TestConfig)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    @app.get("/connect/<token>/boom")
    def connect_boom(token: str) -> str:
        raise RuntimeError("kaboom")

    return app


# --- settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("", "text"), ("text", "text"), ("json", "json"), (" JSON ", "json")])
def test_log_format_setting(tmp_path: Path, raw: str, expected: str) -> None:
    assert load_settings({"LOG_FORMAT": raw}, tmp_path)["LOG_FORMAT"] == expected


def test_an_unknown_log_format_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LOG_FORMAT must be text or json"):
        load_settings({"LOG_FORMAT": "xml"}, tmp_path)


def test_worker_stale_seconds_and_metrics_settings(tmp_path: Path) -> None:
    settings = load_settings({}, tmp_path)
    assert settings["WORKER_STALE_SECONDS"] == 60
    assert settings["METRICS_TOKEN"] == "" and settings["WORKER_METRICS_PORT"] == 0
    custom = load_settings(
        {"WORKER_STALE_SECONDS": "15", "METRICS_TOKEN": "t", "WORKER_METRICS_PORT": "9100"}, tmp_path
    )
    assert (custom["WORKER_STALE_SECONDS"], custom["METRICS_TOKEN"], custom["WORKER_METRICS_PORT"]) == (15, "t", 9100)


# --- lines ------------------------------------------------------------------------------------------


def test_json_lines_carry_time_level_logger_message_and_the_request_id(failing_app: Flask, json_lines: Lines) -> None:
    client = failing_app.test_client()
    response = client.get("/boom", headers={"X-Request-ID": "req-500-test"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-500-test"
    entries = [json.loads(line) for line in json_lines.lines]
    [error] = [e for e in entries if e["level"] == "ERROR"]
    assert {"time", "level", "logger", "message", "request_id"} <= set(error)
    assert error["request_id"] == "req-500-test"
    error_id = error["message"].split("Error ID ")[1].split()[0]
    assert error_id in response.get_data(as_text=True) and "kaboom" in error["exception"]
    assert error["logger"] == "webapp.error_handlers"


def test_the_error_line_of_a_connect_page_redacts_its_token(failing_app: Flask, json_lines: Lines) -> None:
    response = failing_app.test_client().get("/connect/SeCrEtToKeN-123456/boom")
    assert response.status_code == 500
    joined = "\n".join(json_lines.lines)
    assert "SeCrEtToKeN-123456" not in joined and "/connect/<redacted>/boom" in joined


def test_api_lines_name_the_project_and_the_calendar(
    client: Any,
    auth: dict[str, str],
    make_calendar: Any,
    json_lines: Lines,
    project: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = make_calendar()
    from webapp.calendars import service

    original = service.request_sync

    def logged(**kwargs: Any) -> Any:
        logging.getLogger("webapp.calendars").info("requesting a sync")
        return original(**kwargs)

    monkeypatch.setattr(service, "request_sync", logged)
    assert client.post(f"/api/v1/calendars/{created['id']}/sync", headers=auth).status_code == 202
    [entry] = [json.loads(line) for line in json_lines.lines if "requesting a sync" in line]
    assert entry["project_id"] == project.object_id and entry["calendar_id"] == created["id"]
    assert entry["request_id"]


def test_text_lines_append_the_known_fields() -> None:
    record = logging.LogRecord("webapp.sync", logging.INFO, __file__, 1, "sync attempt outcome=%s", ("success",), None)
    record.calendar_id = "cal_123"
    record.task = "sync.calendar"
    line = logs.TextFormatter().format(record)
    assert line.endswith("INFO webapp.sync: sync attempt outcome=success [calendar_id=cal_123 task=sync.calendar]")


def test_bound_fields_reach_lines_logged_inside_the_block(json_lines: Lines) -> None:
    with logs.bind(task="sync.calendar", calendar_id="cal_9"):
        logging.getLogger("webapp.x").warning("inside")
    logging.getLogger("webapp.x").warning("outside")
    inside, outside = (json.loads(line) for line in json_lines.lines[-2:])
    assert inside["task"] == "sync.calendar" and inside["calendar_id"] == "cal_9"
    assert "task" not in outside and "calendar_id" not in outside


# --- redaction, row by row ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/connect/AbC123_-xyz", "/connect/<redacted>"),
        ("/connect/AbC123_-xyz/done", "/connect/<redacted>/done"),
        ("/connect/AbC123_-xyz/start/google", "/connect/<redacted>/start/google"),
        (
            "/connect/callback/google?code=4/0Ab-c&state=s1&scope=x",
            "/connect/callback/google?code=<redacted>&state=<redacted>&scope=x",
        ),
        (
            "/connect/callback/microsoft?code=M.1&session_state=abc&state=z",
            "/connect/callback/microsoft?code=<redacted>&session_state=<redacted>&state=<redacted>",
        ),
        (
            "/connect/callback/google?error=access_denied&state=s1",
            "/connect/callback/google?error=access_denied&state=<redacted>",
        ),
        ("/api/v1/calendars?api_key=k&page_size=5", "/api/v1/calendars?api_key=<redacted>&page_size=5"),
        ("/x?refresh_token=1//04abc&access_token=ya29.x", "/x?refresh_token=<redacted>&access_token=<redacted>"),
        ("/push/microsoft?validationToken=Validation%3A+x", "/push/microsoft?validationToken=<redacted>"),
        ("/api/v1/calendars?deduplication_key=user-1", "/api/v1/calendars?deduplication_key=user-1"),
        ("https://svc.example/connect/tok123/done?x=1", "https://svc.example/connect/<redacted>/done?x=1"),
        ("/api/v1/calendars/cal_123", "/api/v1/calendars/cal_123"),
    ],
)
def test_url_redaction(given: str, expected: str) -> None:
    assert redact_url(given) == expected


def test_query_redaction_of_a_bare_query_string() -> None:
    assert redact_query("code=abc&state=def&scope=openid") == "code=<redacted>&state=<redacted>&scope=openid"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Authorization: Token abcdefghijklmnop1234", "Authorization: Token <redacted>"),
        ("header Bearer eyJhbGciOiJIUzI1NiJ9.payload", "header Bearer <redacted>"),
        ("sync attempt outcome=failure code=token_revoked", "sync attempt outcome=failure code=token_revoked"),
        ('"POST /common/oauth2/v2.0/token HTTP/1.1" 200', '"POST /common/oauth2/v2.0/token HTTP/1.1" 200'),
    ],
)
def test_text_redaction(given: str, expected: str) -> None:
    assert redact_text(given) == expected


# --- gunicorn's access log ------------------------------------------------------------------------


def _access_line(
    tmp_path: Path, environ: dict[str, str], headers: list[tuple[str, str]], fmt: str | None = None
) -> str:
    cfg = GunicornConfig()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    if fmt:
        cfg.set("access_log_format", fmt)
    logger = AccessLogger(cfg)
    response = SimpleNamespace(status="303 SEE OTHER", sent=0, headers=[("X-Request-ID", "rid-1")])
    request = SimpleNamespace(headers=headers)
    from datetime import timedelta

    try:
        logger.access(response, request, {"SERVER_PROTOCOL": "HTTP/1.1", **environ}, timedelta(milliseconds=3))
    finally:
        for handler in list(logger.access_log.handlers) + list(logger.error_log.handlers):
            if getattr(handler, "_gunicorn", False):
                handler.close()
                logger.access_log.removeHandler(handler)
                logger.error_log.removeHandler(handler)
    return (tmp_path / "access.log").read_text()


def test_gunicorn_access_line_is_redacted_and_names_the_request(tmp_path: Path) -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/connect/callback/google?code=4/0SECRET&state=STATESECRET",
        "PATH_INFO": "/connect/callback/google",
        "QUERY_STRING": "code=4/0SECRET&state=STATESECRET",
        "HTTP_REFERER": "https://svc.example/connect/TOKENSECRET/done",
        "HTTP_AUTHORIZATION": "Token APIKEYSECRET0123456789",
    }
    headers = [("REFERER", environ["HTTP_REFERER"]), ("AUTHORIZATION", environ["HTTP_AUTHORIZATION"])]
    risky = '"%(r)s" %(U)s %(q)s "%(f)s" %({authorization}i)s %({raw_uri}e)s %({http_authorization}e)s'
    for fmt in (None, risky):
        line = _access_line(tmp_path, environ, headers, fmt)
        for secret in ("4/0SECRET", "STATESECRET", "TOKENSECRET", "APIKEYSECRET"):
            assert secret not in line
        assert "code=<redacted>&state=<redacted>" in line and line.rstrip().endswith("request_id=rid-1")


def test_gunicorn_writes_json_lines_with_log_format_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/connect/TOK/done", "PATH_INFO": "/connect/TOK/done"}
    entry = json.loads(_access_line(tmp_path, environ, []).strip())
    assert entry["logger"] == "gunicorn.access" and entry["request_id"] == "rid-1"
    assert '"GET /connect/<redacted>/done HTTP/1.1" 303' in entry["message"]


def test_gunicorn_in_the_project_folder_uses_the_redacting_logger() -> None:
    """flask serve's gunicorn and a plain ``gunicorn wsgi:app`` both read gunicorn.conf.py there."""
    import runpy

    from config import PROJECT_ROOT

    settings = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    assert settings["logger_class"] == "webapp.observability.gunicorn.Logger"
    assert settings["accesslog"] == "-" and callable(settings["post_fork"])
