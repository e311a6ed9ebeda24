"""GET /calendars: the page envelope, cursor pagination, filters and the extensions."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.api.contract import CALENDAR_KEYS, CALENDARS, all_pages, calendar_url, json_body
from webapp.extensions import db
from webapp.models import Calendar


def _list(client: FlaskClient, auth: dict[str, str], query: str = "") -> Any:
    response = client.get(f"{CALENDARS}{query}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return json_body(response)


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["results"]]


def _make_many(make_calendar: Any, count: int, prefix: str = "k") -> list[str]:
    """Create *count* calendars; return their ids newest first."""
    return [make_calendar(deduplication_key=f"{prefix}{i}")["id"] for i in range(count)][::-1]


def _disconnect(object_id: str) -> None:
    calendar = db.session.scalar(select(Calendar).where(Calendar.object_id == object_id))
    assert calendar is not None
    calendar.state = "disconnected"
    calendar.connection_failure_data = {"error": "revoked", "timestamp": "2025-01-13T10:30:00.123456Z"}
    db.session.commit()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_empty_list(client: FlaskClient, auth: dict[str, str]) -> None:
    assert _list(client, auth) == {"next": None, "previous": None, "results": []}


def test_envelope_and_newest_first(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    created = [make_calendar(deduplication_key=f"k{i}") for i in range(3)]
    body = _list(client, auth)
    assert list(body) == ["next", "previous", "results"]
    assert body["next"] is None and body["previous"] is None
    assert body["results"] == created[::-1]
    assert all(list(item) == CALENDAR_KEYS for item in body["results"])


def test_default_page_size_is_25(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    ids = _make_many(make_calendar, 26)
    first = _list(client, auth)
    assert _ids(first) == ids[:25]
    assert first["previous"] is None
    assert first["next"] is not None
    second = client.get(first["next"], headers=auth).get_json()
    assert _ids(second) == ids[25:]
    assert second["next"] is None
    assert second["previous"] is not None
    back = client.get(second["previous"], headers=auth).get_json()
    assert _ids(back) == ids[:25]
    assert back["previous"] is None


def test_exactly_one_full_page_has_no_next(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    ids = _make_many(make_calendar, 3)
    body = _list(client, auth, "?page_size=3")
    assert _ids(body) == ids
    assert body["next"] is None and body["previous"] is None


def test_links_are_absolute_urls_that_keep_the_filters(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    _make_many(make_calendar, 3)
    body = _list(client, auth, "?page_size=1&platform=google&state=connected")
    link = urlsplit(body["next"])
    assert link.scheme in ("http", "https") and link.netloc
    assert link.path == CALENDARS
    query = parse_qs(link.query)
    assert query["page_size"] == ["1"]
    assert query["platform"] == ["google"]
    assert query["state"] == ["connected"]
    assert len(query["cursor"]) == 1


def test_walking_every_page_sees_each_calendar_once(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    ids = _make_many(make_calendar, 7)
    for page_size in (1, 2, 3, 5, 7):
        walked = all_pages(client, auth, f"{CALENDARS}?page_size={page_size}")
        assert [item["id"] for item in walked] == ids, page_size


def test_cursor_pages_stay_correct_while_rows_are_inserted(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    existing = _make_many(make_calendar, 9, "old")
    pages: list[dict[str, Any]] = []
    url: str | None = f"{CALENDARS}?page_size=2"
    inserted = 0
    while url is not None:
        page = client.get(url, headers=auth).get_json()
        pages.append(page)
        make_calendar(deduplication_key=f"new{inserted}")  # a newer row lands between two requests
        inserted += 1
        url = page["next"]
    walked = [item_id for page in pages for item_id in _ids(page)]
    assert walked == existing  # each pre-existing calendar exactly once, newest first, nothing new
    assert [len(page["results"]) for page in pages] == [2, 2, 2, 2, 1]

    # Walk back with `previous` from the last page: the same pages come back, in reverse.
    back: list[dict[str, Any]] = []
    url = pages[-1]["previous"]
    while url is not None:
        page = client.get(url, headers=auth).get_json()
        back.append(page)
        make_calendar(deduplication_key=f"newer{len(back)}")
        url = page["previous"]
    assert [_ids(page) for page in back[: len(pages) - 1]] == [_ids(page) for page in pages[-2::-1]]
    # Before the first page there are only the rows inserted during the walk; everything is seen once.
    everything = [item_id for page in reversed(back) for item_id in _ids(page)] + _ids(pages[-1])
    assert len(everything) == len(set(everything))
    assert set(existing) <= set(everything)
    full = [item["id"] for item in _list(client, auth, "?page_size=100")["results"]]
    assert everything == [i for i in full if i in set(everything)]
    assert back[-1]["previous"] is None
    # Every `next` of a page reached backwards leads forward again.
    again = client.get(back[0]["next"], headers=auth).get_json()
    assert _ids(again) == _ids(pages[-1])


def test_cursor_survives_deletion_of_the_row_it_points_at(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    ids = _make_many(make_calendar, 6)
    first = _list(client, auth, "?page_size=2")
    assert client.delete(calendar_url(ids[1]), headers=auth).status_code == 200
    second = client.get(first["next"], headers=auth).get_json()
    assert _ids(second) == ids[2:4]


def test_previous_of_a_first_page_reached_backwards_is_null(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    ids = _make_many(make_calendar, 4)
    first = _list(client, auth, "?page_size=2")
    second = client.get(first["next"], headers=auth).get_json()
    back = client.get(second["previous"], headers=auth).get_json()
    assert _ids(back) == ids[:2]
    assert back["previous"] is None
    assert back["next"] is not None


def test_bad_cursor(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    make_calendar()
    cursors = (
        "garbage",
        "%25%25%25",
        "%C3%A9",
        _b64(b"not json"),
        _b64(b'{"x": 1}'),
        _b64(b"[1, 2]"),
        _b64(b"42"),
        _b64(b"\xff\xfe"),
        "a",
        "x" * 5000,
    )
    for cursor in cursors:
        response = client.get(f"{CALENDARS}?cursor={cursor}", headers=auth)
        assert response.status_code == 404, cursor
        assert json_body(response) == {"detail": "Invalid cursor"}, cursor


def test_tampered_cursor_is_never_a_500(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    _make_many(make_calendar, 3)
    cursor = parse_qs(urlsplit(_list(client, auth, "?page_size=1")["next"]).query)["cursor"][0]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for old, new in ((b"1", b"99999999999999999999999"), (b"1", b"-1"), (b'"r":0', b'"r":7')):
        tampered = _b64(raw.replace(old, new))
        response = client.get(f"{CALENDARS}?cursor={tampered}&page_size=1", headers=auth)
        assert response.status_code in (200, 404), (raw, response.get_data(as_text=True))
        if response.status_code == 404:
            assert json_body(response) == {"detail": "Invalid cursor"}


# --- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("deduplication_key=user-b", ["b"], id="dedup-exact"),
        pytest.param("deduplication_key=user", [], id="dedup-no-prefix-match"),
        pytest.param("deduplication_key=USER-B", [], id="dedup-case-sensitive"),
        pytest.param("deduplication_key=nope", [], id="dedup-unknown"),
        pytest.param("deduplication_key=", [], id="dedup-empty"),
        pytest.param("deduplication_key=%00", [], id="dedup-nul-character"),
        pytest.param("state=connected", ["c", "a"], id="state-connected"),
        pytest.param("state=disconnected", ["b"], id="state-disconnected"),
        pytest.param("platform=google", ["b", "a"], id="platform-google"),
        pytest.param("platform=microsoft", ["c"], id="platform-microsoft"),
        pytest.param("platform=google&state=connected", ["a"], id="platform-and-state"),
        pytest.param("deduplication_key=user-c&platform=google", [], id="dedup-and-platform"),
        pytest.param("unknown_param=1", ["c", "b", "a"], id="unknown-parameter-ignored"),
    ],
)
def test_filters(
    client: FlaskClient, auth: dict[str, str], make_calendar: Any, query: str, expected: list[str]
) -> None:
    made = {
        "a": make_calendar(deduplication_key="user-a", platform="google"),
        "b": make_calendar(deduplication_key="user-b", platform="google"),
        "c": make_calendar(deduplication_key="user-c", platform="microsoft"),
    }
    _disconnect(made["b"]["id"])
    body = _list(client, auth, f"?{query}")
    assert _ids(body) == [made[name]["id"] for name in expected]
    assert body["next"] is None and body["previous"] is None


def test_filtered_pages(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    google = [make_calendar(deduplication_key=f"g{i}", platform="google")["id"] for i in range(3)]
    make_calendar(deduplication_key="m", platform="microsoft")
    walked = all_pages(client, auth, f"{CALENDARS}?platform=google&page_size=1")
    assert [item["id"] for item in walked] == google[::-1]


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("state", ["broken", "Connected", ""]),
        ("platform", ["zoom", "Google", ""]),
        ("page_size", ["0", "101", "-1", "abc", "2.5", "", "99999999999999999999"]),
    ],
)
def test_bad_query_parameter(client: FlaskClient, auth: dict[str, str], name: str, values: list[str]) -> None:
    """api.md gives the shape (400 ``{"error": message}``), not the wording, of these extensions' errors."""
    for value in values:
        response = client.get(f"{CALENDARS}?{name}={value}", headers=auth)
        assert response.status_code == 400, value
        body = json_body(response)
        assert list(body) == ["error"], value
        assert isinstance(body["error"], str) and name in body["error"], value


@pytest.mark.parametrize("page_size", [1, 2, 100])
def test_page_size_extension(client: FlaskClient, auth: dict[str, str], make_calendar: Any, page_size: int) -> None:
    ids = _make_many(make_calendar, 3)
    body = _list(client, auth, f"?page_size={page_size}")
    assert _ids(body) == ids[:page_size]
    assert (body["next"] is None) == (page_size >= 3)


def test_page_size_100_is_the_maximum(client: FlaskClient, auth: dict[str, str], project: Any) -> None:
    from webapp import crypto

    now_rows = [
        Calendar(
            project_id=project.id,
            platform="google",
            client_id="c",
            client_secret_ciphertext=crypto.encrypt("s"),
            refresh_token_ciphertext=crypto.encrypt("t"),
            deduplication_key=f"bulk{i}",
        )
        for i in range(101)
    ]
    db.session.add_all(now_rows)
    db.session.commit()
    body = _list(client, auth, "?page_size=100")
    assert len(body["results"]) == 100
    assert body["next"] is not None
    assert len(client.get(body["next"], headers=auth).get_json()["results"]) == 1
