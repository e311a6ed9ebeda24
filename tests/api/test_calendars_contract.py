"""POST/GET/PATCH/DELETE /calendars: one test case per row of api.md's calendar tables."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text

from tests.api.contract import (
    CALENDAR_ID,
    CALENDAR_KEYS,
    CALENDARS,
    CREATE_ALLOWED,
    DATETIME,
    DROP,
    NOT_FOUND,
    PATCH_ALLOWED,
    calendar_url,
    json_body,
    valid,
)
from tests.conftest import VALID_CALENDAR
from webapp import crypto
from webapp.extensions import db
from webapp.models import Calendar

REQUIRED = ["platform", "client_id", "client_secret", "refresh_token"]
STRINGS = ["client_id", "client_secret", "refresh_token", "platform_uuid", "deduplication_key"]
ALL_FIELDS = ["platform", *STRINGS, "metadata"]
MAX_LENGTH = {
    "client_id": 255,
    "client_secret": 4096,
    "refresh_token": 4096,
    "platform_uuid": 1024,
    "deduplication_key": 1024,
}
DUPLICATE = "A calendar with this deduplication key already exists in this project."
SECRET = VALID_CALENDAR["client_secret"]
TOKEN = VALID_CALENDAR["refresh_token"]


def _post(client: FlaskClient, auth: dict[str, str], body: Any) -> Any:
    return client.post(CALENDARS, json=body, headers=auth)


def _assert_400(response: Any, expected: dict[str, list[str]]) -> None:
    assert response.status_code == 400, response.get_json()
    assert json_body(response) == expected


def _row(object_id: str) -> Calendar:
    db.session.expire_all()
    calendar = db.session.scalar(select(Calendar).where(Calendar.object_id == object_id))
    assert calendar is not None
    return calendar


def _calendar_count() -> int:
    return int(db.session.execute(text("SELECT count(*) FROM calendar")).scalar_one())


# --- the calendar object ------------------------------------------------------------------------


def test_created_calendar_object(client: FlaskClient, auth: dict[str, str]) -> None:
    response = _post(client, auth, valid(platform_uuid="user@example.com"))
    assert response.status_code == 201
    body = json_body(response)
    assert list(body) == CALENDAR_KEYS
    assert CALENDAR_ID.match(body["id"])
    assert DATETIME.match(body["created_at"]) and DATETIME.match(body["updated_at"])
    assert {k: v for k, v in body.items() if k not in ("id", "created_at", "updated_at")} == {
        "platform": "google",
        "client_id": "123456789-abc.apps.googleusercontent.com",
        "platform_uuid": "user@example.com",
        "state": "connected",
        "metadata": {"tenant_id": "1234567890"},
        "deduplication_key": "user-abcd",
        "connection_failure_data": None,
        "last_successful_sync_at": None,
        "last_attempted_sync_at": None,
    }


def test_minimal_calendar_object(client: FlaskClient, auth: dict[str, str]) -> None:
    body = {k: VALID_CALENDAR[k] for k in REQUIRED}
    response = _post(client, auth, body)
    assert response.status_code == 201
    created = json_body(response)
    assert list(created) == CALENDAR_KEYS
    assert created["platform_uuid"] is None
    assert created["metadata"] is None
    assert created["deduplication_key"] is None
    assert created["state"] == "connected"


def test_ids_are_distinct(make_calendar: Any) -> None:
    ids = {make_calendar(deduplication_key=f"k{i}")["id"] for i in range(5)}
    assert len(ids) == 5 and all(CALENDAR_ID.match(i) for i in ids)


def test_first_sync_is_queued_with_the_create(make_calendar: Any) -> None:
    assert _row(make_calendar()["id"]).next_sync_at is not None


# --- POST /calendars: field rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "accepted"),
    [
        pytest.param("platform", [("google", "google"), ("microsoft", "microsoft")], id="platform-choices"),
        pytest.param(
            "client_id",
            [
                ("  abc  ", "abc"),
                ("\tabc\n", "abc"),
                (12345, "12345"),
                (1.5, "1.5"),
                ("a" * 255, "a" * 255),
                (" " + "a" * 255 + " ", "a" * 255),
                ("ünïcødé-✓", "ünïcødé-✓"),
            ],
            id="client_id-trimmed-coerced-max-255",
        ),
        pytest.param("client_secret", [(12345, None), (" s ", None), ("s" * 4096, None)], id="client_secret"),
        pytest.param("refresh_token", [(12345, None), (" t ", None), ("t" * 4096, None)], id="refresh_token"),
        pytest.param(
            "platform_uuid",
            [
                (DROP, None),
                ("c_123@group.calendar.google.com", "c_123@group.calendar.google.com"),
                ("u" * 1024, "u" * 1024),
            ],
            id="platform_uuid-optional-max-1024",
        ),
        pytest.param(
            "metadata",
            [(DROP, None), ({"a": "1", "b": ""}, {"a": "1", "b": ""}), ({"k": "x" * 991}, {"k": "x" * 991})],
            id="metadata-optional-up-to-1000-chars",
        ),
        pytest.param(
            "deduplication_key",
            [(DROP, None), ("  key-1  ", "key-1"), (77, "77"), ("d" * 1024, "d" * 1024)],
            id="deduplication_key-optional-trimmed-max-1024",
        ),
    ],
)
def test_create_accepts(client: FlaskClient, auth: dict[str, str], field: str, accepted: list[tuple[Any, Any]]) -> None:
    for n, (value, shown) in enumerate(accepted):
        body = valid(**{field: value})
        if field != "deduplication_key":
            body["deduplication_key"] = f"accepts-{n}"
        response = _post(client, auth, body)
        assert response.status_code == 201, (value, response.get_json())
        created = json_body(response)
        if field in ("client_secret", "refresh_token"):
            stored = _row(created["id"])
            ciphertext = (
                stored.client_secret_ciphertext if field == "client_secret" else stored.refresh_token_ciphertext
            )
            assert crypto.decrypt(ciphertext) == str(value).strip()
        else:
            assert created[field] == shown, value


def _create_error_rows() -> list[Any]:
    """One row per (message row of api.md, field); a row lists every input that must give that message."""
    rows: list[Any] = []

    def row(field: str, values: list[Any], message: str, name: str) -> None:
        rows.append(pytest.param(field, values, message, id=f"{field}-{name}"))

    for field in REQUIRED:
        row(field, [DROP], "This field is required.", "missing")
    for field in STRINGS:
        row(field, ["", "   ", "\t\n "], "This field may not be blank.", "blank")
        row(field, [{"a": "b"}, {}, ["a"], [], True], "Not a valid string.", "not-a-string")
        limit = MAX_LENGTH[field]
        row(
            field,
            ["x" * (limit + 1), " " + "x" * (limit + 1)],
            f"Ensure this field has no more than {limit} characters.",
            "too-long",
        )
    for field in ALL_FIELDS:
        row(field, [None], "This field may not be null.", "null")
    for value in ("zoom", "Google", "MICROSOFT", " google", ""):
        row("platform", [value], f'"{value}" is not a valid choice.', f"choice-{value.strip() or 'blank'}")
    row("metadata", [["a"], [], "x", 1, True], "Metadata must be an object not an array or other type", "not-object")
    row("metadata", [{}], "Metadata must have at least one key", "empty")
    row(
        "metadata",
        [{"a": 1}, {"a": None}, {"a": True}, {"a": ["x"]}, {"a": {"b": "c"}}, {"a": 1.5}],
        "Value for key 'a' must be a string",
        "value-not-string",
    )
    row("metadata", [{"ok": "x", "b": 2}], "Value for key 'b' must be a string", "second-key")
    row(
        "metadata",
        [
            {"k": "x" * 992},  # len(json.dumps(...)) == 1001
            {"k": "x" * 5000},
            {"k": "é" * 200},  # json.dumps escapes non-ASCII: 1209 characters
            {f"k{i}": "v" for i in range(120)},
        ],
        "Metadata must be less than 1000 characters",
        "too-long",
    )
    return rows


@pytest.mark.parametrize(("field", "values", "message"), _create_error_rows())
def test_create_field_errors(
    client: FlaskClient, auth: dict[str, str], field: str, values: list[Any], message: str
) -> None:
    for value in values:
        response = _post(client, auth, valid(**{field: value}))
        assert response.status_code == 400, value
        assert json_body(response) == {field: [message]}, value
    assert _calendar_count() == 0


def test_every_invalid_field_is_reported(client: FlaskClient, auth: dict[str, str]) -> None:
    _assert_400(
        _post(client, auth, {}),
        {field: ["This field is required."] for field in REQUIRED},
    )
    body = {
        "platform": "zoom",
        "client_id": "",
        "client_secret": None,
        "metadata": {},
        "deduplication_key": [],
    }
    _assert_400(
        _post(client, auth, body),
        {
            "platform": ['"zoom" is not a valid choice.'],
            "client_id": ["This field may not be blank."],
            "client_secret": ["This field may not be null."],
            "refresh_token": ["This field is required."],
            "metadata": ["Metadata must have at least one key"],
            "deduplication_key": ["Not a valid string."],
        },
    )


@pytest.mark.parametrize("second", ["user-abcd", "  user-abcd  "], ids=["same-key", "same-key-after-trimming"])
def test_duplicate_deduplication_key(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any, second: str
) -> None:
    make_calendar(deduplication_key="user-abcd")
    _assert_400(
        _post(client, auth, valid(deduplication_key=second, client_id="other")),
        {"deduplication_key": [DUPLICATE]},
    )
    assert _calendar_count() == 1


def test_deduplication_key_is_case_sensitive(make_calendar: Any) -> None:
    make_calendar(deduplication_key="user-abcd")
    make_calendar(deduplication_key="USER-ABCD")


def test_calendars_without_deduplication_key_do_not_conflict(make_calendar: Any) -> None:
    make_calendar(deduplication_key=None)
    make_calendar(deduplication_key=None)


def test_deduplication_key_is_free_again_after_delete(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    first = make_calendar(deduplication_key="reuse")
    assert client.delete(calendar_url(first["id"]), headers=auth).status_code == 200
    assert make_calendar(deduplication_key="reuse")["id"] != first["id"]


@pytest.mark.parametrize("field", ["client_id", "client_secret", "refresh_token", "platform_uuid", "deduplication_key"])
def test_null_character_in_a_string_is_a_field_error(client: FlaskClient, auth: dict[str, str], field: str) -> None:
    """Not in api.md's tables; Django REST framework's CharField refuses NUL with this message."""
    _assert_400(_post(client, auth, valid(**{field: "a\x00b"})), {field: ["Null characters are not allowed."]})


# --- unknown fields -----------------------------------------------------------------------------


def _unexpected(names: str, allowed: str = CREATE_ALLOWED) -> dict[str, list[str]]:
    return {"non_field_errors": [f"Unexpected field(s): {names}. Allowed fields are: {allowed}"]}


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        pytest.param({"foo": 1, "bar": 2}, "bar, foo", id="sorted"),
        pytest.param({"foo": None}, "foo", id="one"),
        pytest.param({"id": "cal_AAAAAAAAAAAAAAAA"}, "id", id="read-only-id"),
        pytest.param({"state": "disconnected"}, "state", id="read-only-state"),
        pytest.param({"created_at": "2025-01-13T10:30:00Z"}, "created_at", id="read-only-created_at"),
        pytest.param({"Platform": "google"}, "Platform", id="case-sensitive-name"),
        pytest.param({"z": 1, "a": 1, "m": 1}, "a, m, z", id="three-sorted"),
    ],
)
def test_unknown_fields_when_everything_else_is_valid(
    client: FlaskClient, auth: dict[str, str], extra: dict[str, Any], names: str
) -> None:
    _assert_400(_post(client, auth, {**valid(), **extra}), _unexpected(names))
    assert _calendar_count() == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"foo": 1}, {f: ["This field is required."] for f in REQUIRED}, id="missing-fields"),
        pytest.param(
            valid(platform="zoom", foo=1), {"platform": ['"zoom" is not a valid choice.']}, id="invalid-field"
        ),
        pytest.param(
            valid(metadata={}, bar=1),
            {"metadata": ["Metadata must have at least one key"]},
            id="invalid-metadata",
        ),
    ],
)
def test_unknown_fields_are_not_reported_with_field_errors(
    client: FlaskClient, auth: dict[str, str], body: dict[str, Any], expected: dict[str, list[str]]
) -> None:
    _assert_400(_post(client, auth, body), expected)


# --- GET /calendars/{id} ------------------------------------------------------------------------


def test_get_one(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    created = make_calendar()
    response = client.get(calendar_url(created["id"]), headers=auth)
    assert response.status_code == 200
    body = json_body(response)
    assert body == created
    assert list(body) == CALENDAR_KEYS


@pytest.mark.parametrize(
    "object_id",
    [
        pytest.param("cal_AAAAAAAAAAAAAAAA", id="well-formed"),
        pytest.param("cal_nope", id="short"),
        pytest.param("nope", id="no-prefix"),
        pytest.param("evt_AAAAAAAAAAAAAAAA", id="event-prefix"),
        pytest.param("c" * 2000, id="very-long"),
        pytest.param("cal_%C3%A9%E2%9C%93", id="non-ascii"),
        pytest.param("cal_x%27%20OR%201%3D1--", id="sql-like"),
        pytest.param("cal_%00abc", id="nul-character"),
    ],
)
def test_unknown_id_is_not_found(client: FlaskClient, auth: dict[str, str], make_calendar: Any, object_id: str) -> None:
    make_calendar()
    for method in ("GET", "PATCH", "DELETE"):
        json_arg = {"metadata": {"a": "b"}} if method == "PATCH" else None
        response = client.open(calendar_url(object_id), method=method, json=json_arg, headers=auth)
        assert response.status_code == 404, method
        assert json_body(response) == NOT_FOUND, method
    assert _calendar_count() == 1


def test_id_is_case_sensitive(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    object_id = make_calendar()["id"]
    swapped = "cal_" + object_id[4:].swapcase()
    if swapped != object_id:
        assert client.get(calendar_url(swapped), headers=auth).status_code == 404


# --- PATCH /calendars/{id} ----------------------------------------------------------------------


def _patch(client: FlaskClient, auth: dict[str, str], object_id: str, body: Any) -> Any:
    return client.patch(calendar_url(object_id), json=body, headers=auth)


def test_patch_empty_body_is_valid(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    created = make_calendar()
    for raw in (b"{}", b""):
        response = client.patch(calendar_url(created["id"]), data=raw, headers=auth, content_type="application/json")
        assert response.status_code == 200
        body = json_body(response)
        assert list(body) == CALENDAR_KEYS
        assert {k: v for k, v in body.items() if k != "updated_at"} == {
            k: v for k, v in created.items() if k != "updated_at"
        }
        assert DATETIME.match(body["updated_at"]) and body["updated_at"] >= created["updated_at"]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"client_secret": "new-secret"}, id="client_secret"),
        pytest.param({"refresh_token": "new-token"}, id="refresh_token"),
        pytest.param({"client_secret": "new-secret", "refresh_token": "new-token"}, id="both-secrets"),
        pytest.param({"client_secret": 999}, id="client_secret-int-coerced"),
        pytest.param({"refresh_token": "  padded  "}, id="refresh_token-trimmed"),
    ],
)
def test_patch_credentials_are_reencrypted_and_a_sync_is_queued(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any, changes: dict[str, Any]
) -> None:
    created = make_calendar()
    before = _row(created["id"])
    old = {"client_secret": before.client_secret_ciphertext, "refresh_token": before.refresh_token_ciphertext}
    before.next_sync_at = None
    db.session.commit()
    response = _patch(client, auth, created["id"], changes)
    assert response.status_code == 200
    body = json_body(response)
    assert body["id"] == created["id"]
    assert {k: v for k, v in body.items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"
    }
    after = _row(created["id"])
    assert after.next_sync_at is not None
    stored = {
        "client_secret": after.client_secret_ciphertext,
        "refresh_token": after.refresh_token_ciphertext,
    }
    for field, value in changes.items():
        assert stored[field] != old[field]
        assert crypto.decrypt(stored[field]) == str(value).strip()
    for field in {"client_secret", "refresh_token"} - set(changes):
        assert stored[field] == old[field]


def test_patch_metadata_replaces_the_whole_object(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    created = make_calendar(metadata={"a": "1", "b": "2"})
    response = _patch(client, auth, created["id"], {"metadata": {"c": "3"}})
    assert response.status_code == 200
    assert json_body(response)["metadata"] == {"c": "3"}
    assert client.get(calendar_url(created["id"]), headers=auth).get_json()["metadata"] == {"c": "3"}


def test_patch_adds_metadata_to_a_calendar_without(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    created = make_calendar(metadata=None)
    assert created["metadata"] is None
    assert _patch(client, auth, created["id"], {"metadata": {"x": "y"}}).get_json()["metadata"] == {"x": "y"}


def test_patch_keeps_a_disconnected_calendar_disconnected_until_its_sync_succeeds(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    created = make_calendar()
    row = _row(created["id"])
    failure = {"error": "Token revoked", "timestamp": "2025-01-13T10:30:00.123456Z"}
    row.state = "disconnected"
    row.connection_failure_data = failure
    db.session.commit()
    response = _patch(client, auth, created["id"], {"refresh_token": "re-authorized"})
    assert response.status_code == 200
    body = json_body(response)
    assert body["id"] == created["id"]
    assert body["state"] == "disconnected"
    assert body["connection_failure_data"] == failure
    assert _row(created["id"]).next_sync_at is not None


def _patch_error_rows() -> list[Any]:
    rows: list[Any] = []
    for field in ("client_secret", "refresh_token"):
        for name, values, message in (
            ("blank", ["", "   "], "This field may not be blank."),
            ("null", [None], "This field may not be null."),
            ("not-a-string", [{"a": "b"}, ["a"], False], "Not a valid string."),
            ("too-long", ["x" * 4097], "Ensure this field has no more than 4096 characters."),
        ):
            rows.append(pytest.param([{field: v} for v in values], {field: [message]}, id=f"{field}-{name}"))
    for name, values, message in (
        ("null", [None], "This field may not be null."),
        ("not-object", [["a"], "x"], "Metadata must be an object not an array or other type"),
        ("empty", [{}], "Metadata must have at least one key"),
        ("value-not-string", [{"a": 1}], "Value for key 'a' must be a string"),
        ("too-long", [{"k": "x" * 992}], "Metadata must be less than 1000 characters"),
    ):
        rows.append(pytest.param([{"metadata": v} for v in values], {"metadata": [message]}, id=f"metadata-{name}"))
    rows.append(
        pytest.param(
            [{"client_secret": "", "metadata": {}, "platform": "x"}],
            {"client_secret": ["This field may not be blank."], "metadata": ["Metadata must have at least one key"]},
            id="several-fields-and-unknown",
        )
    )
    return rows


@pytest.mark.parametrize(("bodies", "expected"), _patch_error_rows())
def test_patch_field_errors(
    client: FlaskClient,
    auth: dict[str, str],
    make_calendar: Any,
    bodies: list[dict[str, Any]],
    expected: dict[str, list[str]],
) -> None:
    created = make_calendar()
    before = _row(created["id"]).client_secret_ciphertext
    for body in bodies:
        _assert_400(_patch(client, auth, created["id"], body), expected)
    assert client.get(calendar_url(created["id"]), headers=auth).get_json() == created
    assert _row(created["id"]).client_secret_ciphertext == before


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        pytest.param({"platform": "microsoft"}, "platform", id="platform"),
        pytest.param({"client_id": "x"}, "client_id", id="client_id"),
        pytest.param({"platform_uuid": "x"}, "platform_uuid", id="platform_uuid"),
        pytest.param({"deduplication_key": "x"}, "deduplication_key", id="deduplication_key"),
        pytest.param({"id": "cal_AAAAAAAAAAAAAAAA"}, "id", id="id"),
        pytest.param({"state": "connected"}, "state", id="state"),
        pytest.param({"foo": 1, "client_id": "x", "platform": "google"}, "client_id, foo, platform", id="sorted"),
        pytest.param({"metadata": {"a": "b"}, "platform": "google"}, "platform", id="with-a-valid-field"),
    ],
)
def test_patch_unknown_fields(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any, changes: dict[str, Any], names: str
) -> None:
    created = make_calendar()
    _assert_400(_patch(client, auth, created["id"], changes), _unexpected(names, PATCH_ALLOWED))
    assert client.get(calendar_url(created["id"]), headers=auth).get_json() == created


def test_patch_the_spec_example(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    created = make_calendar()
    _assert_400(
        _patch(client, auth, created["id"], {"platform": "google"}),
        {
            "non_field_errors": [
                "Unexpected field(s): platform. Allowed fields are: client_secret, metadata, refresh_token"
            ]
        },
    )


# --- DELETE /calendars/{id} ---------------------------------------------------------------------


def test_delete(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    kept = make_calendar(deduplication_key="kept")
    gone = make_calendar(deduplication_key="gone")
    response = client.delete(calendar_url(gone["id"]), headers=auth)
    assert response.status_code == 200
    assert response.get_data() == b""
    assert client.get(calendar_url(gone["id"]), headers=auth).get_json() == NOT_FOUND
    assert client.get(calendar_url(gone["id"]), headers=auth).status_code == 404
    assert client.get(CALENDARS, headers=auth).get_json()["results"] == [kept]
    again = client.delete(calendar_url(gone["id"]), headers=auth)
    assert again.status_code == 404
    assert json_body(again) == NOT_FOUND
    patched = client.patch(calendar_url(gone["id"]), json={}, headers=auth)
    assert patched.status_code == 404
    assert _calendar_count() == 1


# --- secrets ------------------------------------------------------------------------------------


def _assert_no_secret(response: Any, *secrets: str) -> None:
    text_body = response.get_data(as_text=True)
    for secret in secrets:
        assert secret not in text_body
    assert "client_secret" not in text_body or response.status_code == 400
    assert "refresh_token" not in text_body or response.status_code == 400


def test_secrets_never_appear_in_responses(
    client: FlaskClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = (SECRET, TOKEN, "new-secret-value", "new-refresh-value")
    created = _post(client, auth, valid())
    assert created.status_code == 201
    object_id = created.get_json()["id"]
    responses = [
        created,
        client.get(CALENDARS, headers=auth),
        client.get(calendar_url(object_id), headers=auth),
        _patch(client, auth, object_id, {"client_secret": secrets[2], "refresh_token": secrets[3]}),
        _patch(client, auth, object_id, {"client_secret": secrets[2], "metadata": {}}),
        _patch(client, auth, object_id, {"refresh_token": secrets[3], "platform": "google"}),
        _post(client, auth, valid()),  # duplicate deduplication key
        _post(client, auth, valid(platform="zoom")),
        _post(client, auth, valid(foo="bar")),
        client.get(calendar_url(object_id), headers=auth),
    ]
    for response in responses:
        _assert_no_secret(response, *secrets)
        if response.status_code < 300:
            assert "client_secret" not in response.get_json()
            assert "refresh_token" not in response.get_json()
    for secret in secrets:
        assert secret not in caplog.text


def test_database_holds_no_plaintext_secrets(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    object_id = make_calendar()["id"]

    def raw_columns() -> tuple[bytes, bytes]:
        db.session.expire_all()
        row = db.session.execute(
            text("SELECT client_secret_ciphertext, refresh_token_ciphertext FROM calendar WHERE object_id = :id"),
            {"id": object_id},
        ).one()
        return bytes(row[0]), bytes(row[1])

    secret, token = raw_columns()
    for column in (secret, token):
        for plaintext in (SECRET, TOKEN):
            assert plaintext.encode() not in column
    assert crypto.decrypt(secret) == SECRET
    assert crypto.decrypt(token) == TOKEN

    _patch(client, auth, object_id, {"client_secret": "patched-secret-42", "refresh_token": "patched-token-42"})
    secret, token = raw_columns()
    for column in (secret, token):
        for plaintext in (SECRET, TOKEN, "patched-secret-42", "patched-token-42"):
            assert plaintext.encode() not in column
    assert crypto.decrypt(secret) == "patched-secret-42"
    assert crypto.decrypt(token) == "patched-token-42"

    dump = json.dumps([[str(v) for v in r] for r in db.session.execute(text("SELECT * FROM calendar")).all()])
    for plaintext in (SECRET, TOKEN, "patched-secret-42", "patched-token-42"):
        assert plaintext not in dump
