"""The four error shapes and every framework message of api.md, plus hostile bodies (size, depth, bytes)."""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.contract import CALENDARS, PREFIX, calendar_url, json_body, send, valid
from webapp.calendars import queries

ONE_MB = 1024 * 1024


@pytest.fixture
def calendar_id(make_calendar: Any) -> str:
    return str(make_calendar(deduplication_key="errors")["id"])


def _target(method: str, calendar_id: str) -> str:
    return CALENDARS if method == "POST" else calendar_url(calendar_id)


def _post_and_patch(
    client: FlaskClient,
    auth: dict[str, str],
    calendar_id: str,
    raw: bytes | str,
    content_type: str = "application/json",
) -> list[tuple[str, Any]]:
    """The same raw body sent to both endpoints that read one: POST /calendars and PATCH /calendars/{id}."""
    return [
        (method, send(client, method, _target(method, calendar_id), auth, data=raw, content_type=content_type))
        for method in ("POST", "PATCH")
    ]


# --- the four shapes ----------------------------------------------------------------------------


def test_field_validation_shape(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(CALENDARS, json=valid(platform="zoom", client_id=""), headers=auth)
    assert response.status_code == 400
    assert json_body(response) == {
        "platform": ['"zoom" is not a valid choice.'],
        "client_id": ["This field may not be blank."],
    }


def test_whole_body_validation_shape(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(CALENDARS, json=valid(foo="x"), headers=auth)
    assert response.status_code == 400
    assert json_body(response) == {
        "non_field_errors": [
            "Unexpected field(s): foo. Allowed fields are: client_id, client_secret, "
            "deduplication_key, metadata, platform, platform_uuid, refresh_token"
        ]
    }


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        pytest.param(f"{CALENDARS}/cal_AAAAAAAAAAAAAAAA", 404, {"error": "Calendar not found"}, id="not-found"),
        pytest.param(f"{CALENDARS}?state=broken", 400, None, id="bad-query-parameter"),
    ],
)
def test_error_shape(
    client: FlaskClient, auth: dict[str, str], path: str, status: int, body: dict[str, str] | None
) -> None:
    response = client.get(path, headers=auth)
    assert response.status_code == status
    data = json_body(response)
    if body is None:
        assert list(data) == ["error"] and isinstance(data["error"], str) and data["error"]
    else:
        assert data == body


# --- framework messages -------------------------------------------------------------------------


MALFORMED = {
    "open-brace": b"{",
    "missing-value": b'{"platform": }',
    "extra-data": b"{}x",
    "single-quotes": b"{'a': 'b'}",
    "trailing-comma": b'{"a": "b",}',
    "unterminated-string": b'{"a": "b',
    "text": b"not json",
}


def test_malformed_json(client: FlaskClient, auth: dict[str, str], calendar_id: str) -> None:
    """``<parser message>`` is the JSON parser's own message for the input."""
    for name, raw in MALFORMED.items():
        with pytest.raises(ValueError) as parser_error:
            json.loads(raw)
        message = str(parser_error.value)
        for method, response in _post_and_patch(client, auth, calendar_id, raw):
            assert response.status_code == 400, (name, method)
            assert json_body(response) == {"detail": f"JSON parse error - {message}"}, (name, method)


def test_non_standard_json_constants_are_parse_errors(
    client: FlaskClient, auth: dict[str, str], calendar_id: str
) -> None:
    for raw in (b'{"platform": NaN}', b'{"a": Infinity}', b"-Infinity"):
        for method, response in _post_and_patch(client, auth, calendar_id, raw):
            assert response.status_code == 400, (raw, method)
            body = json_body(response)
            assert list(body) == ["detail"]
            assert body["detail"].startswith("JSON parse error - ")


def test_unsupported_media_type(client: FlaskClient, auth: dict[str, str], calendar_id: str) -> None:
    raw = json.dumps(valid()).encode()
    for content_type in (
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "application/xml",
        "text/json",
    ):
        for method, response in _post_and_patch(client, auth, calendar_id, raw, content_type):
            assert response.status_code == 415, (content_type, method)
            assert json_body(response) == {"detail": f'Unsupported media type "{content_type}" in request.'}


def test_json_media_types_are_accepted(client: FlaskClient, auth: dict[str, str]) -> None:
    for n, content_type in enumerate(("application/json", "application/json; charset=utf-8")):
        raw = json.dumps(valid(deduplication_key=f"k{n}")).encode()
        response = send(client, "POST", CALENDARS, auth, data=raw, content_type=content_type)
        assert response.status_code == 201, content_type


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "{one}"),
        ("POST", "{one}"),
        ("PUT", CALENDARS),
        ("PATCH", CALENDARS),
        ("DELETE", CALENDARS),
    ],
)
def test_wrong_method(client: FlaskClient, auth: dict[str, str], calendar_id: str, method: str, path: str) -> None:
    path = path.replace("{one}", calendar_url(calendar_id))
    response = client.open(path, method=method, json=valid(), headers=auth)
    assert response.status_code == 405
    assert json_body(response) == {"detail": f'Method "{method}" not allowed.'}


def test_body_not_an_object(client: FlaskClient, auth: dict[str, str], calendar_id: str) -> None:
    for value, type_name in (
        ([], "list"),
        ([valid()], "list"),
        ("google", "str"),
        (42, "int"),
        (4.5, "float"),
        (True, "bool"),
    ):
        for method, response in _post_and_patch(client, auth, calendar_id, json.dumps(value)):
            assert response.status_code == 400, (value, method)
            assert json_body(response) == {
                "non_field_errors": [f"Invalid data. Expected a dictionary, but got {type_name}."]
            }


def test_json_null_body_is_no_data(client: FlaskClient, auth: dict[str, str], calendar_id: str) -> None:
    """Not in api.md's tables: Django REST framework's message for a ``null`` body."""
    for method, response in _post_and_patch(client, auth, calendar_id, b"null"):
        assert response.status_code == 400, method
        assert json_body(response) == {"non_field_errors": ["No data provided"]}


def test_unknown_path_under_api(client: FlaskClient, auth: dict[str, str]) -> None:
    paths = (
        f"{PREFIX}/nope",
        f"{PREFIX}/calendar",
        f"{PREFIX}/calendars/",
        f"{PREFIX}/calendars/cal_AAAAAAAAAAAAAAAA/nope",
        f"{PREFIX}/",
        f"{PREFIX}",
    )
    for path in paths:
        for headers in (auth, {}):
            for method in ("GET", "POST", "DELETE"):
                response = client.open(path, method=method, headers=headers)
                assert response.status_code == 404, (path, method, headers)
                assert json_body(response) == {"error": "Not found"}, (path, method, headers)


def test_unexpected_failure_is_a_500_with_an_error_id_in_the_log(
    client: FlaskClient,
    auth: dict[str, str],
    calendar_id: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr(queries, "get_calendar_document", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get(calendar_url(calendar_id), headers=auth)
    assert response.status_code == 500
    body = json_body(response)
    assert list(body) == ["detail"]
    match = re.fullmatch(r"Internal server error\. Error ID: (\w+)", body["detail"])
    assert match is not None, body
    assert match.group(1) in caplog.text
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "boom" not in text


# --- hostile bodies: always a clean 4xx JSON answer ---------------------------------------------


def _assert_clean_4xx(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    body = json_body(response)
    assert isinstance(body, dict) and body
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "Error ID" not in text
    return body


def test_one_megabyte_bodies(client: FlaskClient, auth: dict[str, str], calendar_id: str) -> None:
    bodies = {
        "valid-json": json.dumps(valid(metadata={"k": "x" * ONE_MB})).encode(),
        "garbage": b"x" * ONE_MB,
        "array": b"[" + b"1," * (ONE_MB // 2) + b"1]",
        "whitespace": b" " * ONE_MB + b"{}",
    }
    for name, raw in bodies.items():
        for method, response in _post_and_patch(client, auth, calendar_id, raw):
            body = _assert_clean_4xx(response)
            assert response.status_code in (400, 413), (name, method)
            assert list(body) == ["detail"] and isinstance(body["detail"], str)


def test_deeply_nested_json(client: FlaskClient, auth: dict[str, str], calendar_id: str) -> None:
    bodies = {
        "100000-open-brackets": b"[" * 100_000,
        "100000-nested-arrays": b"[" * 100_000 + b"]" * 100_000,
        "50000-nested-objects": b'{"":' * 50_000 + b"1" + b"}" * 50_000,
        "deep-inside-a-field": b'{"platform": "google", "metadata": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    }
    for name, raw in bodies.items():
        for method, response in _post_and_patch(client, auth, calendar_id, raw):
            body = _assert_clean_4xx(response)
            assert response.status_code == 400, (name, method)
            assert list(body) == ["detail"] and body["detail"].startswith("JSON parse error - ")


def test_moderately_nested_metadata_is_a_field_error(client: FlaskClient, auth: dict[str, str]) -> None:
    nested: Any = "x"
    for _ in range(200):
        nested = [nested]
    response = client.post(CALENDARS, json=valid(metadata={"a": nested}), headers=auth)
    assert response.status_code == 400
    assert json_body(response) == {"metadata": ["Value for key 'a' must be a string"]}


def test_non_utf8_bytes(client: FlaskClient, auth: dict[str, str], calendar_id: str) -> None:
    bodies = {
        "invalid-start-bytes": b"\xff\xfe\xfd",
        "latin-1-inside-a-string": b'{"client_id": "caf\xe9"}',
        "truncated-sequence": b'{"platform": "google", "client_id": "\xc3"}',
        "continuation-byte-in-key": b'{"\x80": "a"}',
        "utf-16-with-bom": '{"client_id": "x"}'.encode("utf-16"),
        "encoded-surrogate": b'{"client_id": "\xed\xa0\x80"}',
    }
    for name, raw in bodies.items():
        for method, response in _post_and_patch(client, auth, calendar_id, raw):
            body = _assert_clean_4xx(response)
            assert response.status_code == 400, (name, method)
            assert list(body) == ["detail"] and body["detail"].startswith("JSON parse error - ")


def test_lone_surrogate_escape_is_a_clean_4xx(client: FlaskClient, auth: dict[str, str], calendar_id: str) -> None:
    """``"\\ud800"`` is valid JSON syntax but not encodable text: a 4xx, never a crash."""
    for field in ("client_id", "client_secret", "refresh_token", "platform_uuid", "deduplication_key", "metadata"):
        value = {"a": "x\udc00"} if field == "metadata" else "a\ud800b"
        raw = json.dumps(valid(**{field: value})).encode()
        _assert_clean_4xx(send(client, "POST", CALENDARS, auth, data=raw))
        if field in ("client_secret", "refresh_token", "metadata"):
            raw = json.dumps({field: value}).encode()
            _assert_clean_4xx(send(client, "PATCH", calendar_url(calendar_id), auth, data=raw))


# The faults a probe found (issue 16), row by row: each answered 500 on PostgreSQL or everywhere.
@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/webhooks/%00", 404, {"error": "Webhook not found"}),
        ("GET", "/connect_sessions/%00", 404, {"error": "Connect session not found"}),
        ("POST", "/webhook_deliveries/%00/redeliver", 404, {"error": "Webhook delivery not found"}),
        ("GET", "/calendar_events/evt_%00", 404, {"error": "Calendar event not found"}),
        ("GET", "/calendars/cal_%00", 404, {"error": "Calendar not found"}),
        ("GET", "/webhooks/{webhook}/deliveries?calendar_id=%00", 200, {"next": None, "previous": None, "results": []}),
        (
            "GET",
            "/calendar_events?updated_at_gte=0001-01-01T00:00:00%2B14:00",
            400,
            {"error": "Invalid updated_at_gte format. Use ISO 8601 format (e.g., 2025-01-13T10:30:00Z)"},
        ),
        (
            "GET",
            "/calendar_events?updated_after=0001-01-01T00:00:00%2B14:00",
            400,
            {"error": "Invalid updated_at_gte format. Use ISO 8601 format (e.g., 2025-01-13T10:30:00Z)"},
        ),
        (
            "GET",
            "/calendar_events?start_time_gte=0001-01-01T00:00:00%2B14:00",
            400,
            {"error": "Invalid start_time_gte format. Use ISO 8601 format (e.g., 2025-01-13T10:30:00Z)"},
        ),
        (
            "GET",
            "/calendar_events?end_time_lte=9999-12-31T23:59:59-14:00",
            400,
            {"error": "Invalid end_time_lte format. Use ISO 8601 format (e.g., 2025-01-13T18:00:00Z)"},
        ),
        ("GET", "/calendars?page_size=%C2%B2", 400, {"error": "Invalid page_size. Use an integer from 1 to 100."}),
        ("GET", "/calendars?cursor=eyJ2IjoxZTMwLCJpIjoxLCJyIjowfQ", 404, {"detail": "Invalid cursor"}),
    ],
)
def test_impossible_values_are_refused_before_the_database(
    client: FlaskClient, auth: dict[str, str], method: str, path: str, status: int, body: Any
) -> None:
    webhook = client.post(f"{PREFIX}/webhooks", json={"url": "https://hooks.example.com/x"}, headers=auth).get_json()
    response = client.open(PREFIX + path.replace("{webhook}", webhook["id"]), method=method, headers=auth)
    assert (response.status_code, json_body(response)) == (status, body)


def test_cursor_numbers_beyond_64_bits_are_invalid(client: FlaskClient, auth: dict[str, str]) -> None:
    for value, row_id in ((1, 2**63), (2**63, 1), (-(2**63) - 1, 1)):
        raw = json.dumps({"v": value, "i": row_id, "r": 0}).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        response = client.get(f"{PREFIX}/calendars?cursor={cursor}", headers=auth)
        assert (response.status_code, json_body(response)) == (404, {"detail": "Invalid cursor"})


def test_rotate_secret_advertises_only_post(client: FlaskClient, auth: dict[str, str]) -> None:
    options = client.open(f"{PREFIX}/webhooks/rotate_secret", method="OPTIONS", headers=auth)
    assert set(options.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    wrong = client.get(f"{PREFIX}/webhooks/rotate_secret", headers=auth)
    assert wrong.status_code == 405 and set(wrong.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
