"""Cross-project isolation: another project's calendar does not exist for you."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.contract import CALENDARS, NOT_FOUND, calendar_url, json_body, valid


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param("GET", None, id="GET"),
        pytest.param("PATCH", {"metadata": {"stolen": "yes"}}, id="PATCH"),
        pytest.param("PATCH", {}, id="PATCH-empty"),
        pytest.param("PATCH", {"client_secret": "attacker", "refresh_token": "attacker"}, id="PATCH-secrets"),
        pytest.param("PATCH", {"platform": "microsoft"}, id="PATCH-unknown-field"),
        pytest.param("PATCH", {"metadata": {}}, id="PATCH-invalid-field"),
        pytest.param("DELETE", None, id="DELETE"),
    ],
)
def test_other_projects_calendar_is_not_found(
    client: FlaskClient,
    auth: dict[str, str],
    other_auth: dict[str, str],
    make_calendar: Any,
    method: str,
    body: Any,
) -> None:
    mine = make_calendar()
    response = client.open(calendar_url(mine["id"]), method=method, json=body, headers=other_auth)
    assert response.status_code == 404
    assert json_body(response) == NOT_FOUND
    # Untouched for its owner.
    assert client.get(calendar_url(mine["id"]), headers=auth).get_json() == mine


def test_other_projects_calendars_are_not_listed(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str], make_calendar: Any
) -> None:
    mine = make_calendar(deduplication_key="user-abcd")
    theirs = client.post(CALENDARS, json=valid(deduplication_key="theirs"), headers=other_auth).get_json()
    for query in ("", "?deduplication_key=user-abcd", "?page_size=100", "?state=connected", "?platform=google"):
        listed = client.get(f"{CALENDARS}{query}", headers=other_auth).get_json()
        assert mine["id"] not in [item["id"] for item in listed["results"]]
        own = client.get(f"{CALENDARS}{query}", headers=auth).get_json()
        assert theirs["id"] not in [item["id"] for item in own["results"]]
    assert client.get(f"{CALENDARS}?deduplication_key=user-abcd", headers=other_auth).get_json() == {
        "next": None,
        "previous": None,
        "results": [],
    }


def test_same_deduplication_key_in_two_projects(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str], make_calendar: Any
) -> None:
    mine = make_calendar(deduplication_key="user-abcd")
    response = client.post(CALENDARS, json=valid(deduplication_key="user-abcd"), headers=other_auth)
    assert response.status_code == 201
    theirs = json_body(response)
    assert theirs["id"] != mine["id"]
    for headers, expected in ((auth, mine), (other_auth, theirs)):
        listed = client.get(f"{CALENDARS}?deduplication_key=user-abcd", headers=headers).get_json()
        assert listed["results"] == [expected]
    # Each is still unique within its own project.
    again = client.post(CALENDARS, json=valid(deduplication_key="user-abcd"), headers=other_auth)
    assert again.status_code == 400
    assert json_body(again) == {
        "deduplication_key": ["A calendar with this deduplication key already exists in this project."]
    }


def test_cursor_of_another_project_does_not_leak(
    client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str], make_calendar: Any
) -> None:
    mine = [make_calendar(deduplication_key=f"k{i}")["id"] for i in range(3)]
    link = client.get(f"{CALENDARS}?page_size=1", headers=auth).get_json()["next"]
    response = client.get(link, headers=other_auth)
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert not {item["id"] for item in response.get_json()["results"]} & set(mine)
    else:
        assert json_body(response) == {"detail": "Invalid cursor"}
