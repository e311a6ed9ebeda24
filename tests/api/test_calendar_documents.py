"""The database renders the calendar object for reads; it must equal what the Python serializer
renders for writes, value for value and key for key, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webapp import crypto
from webapp.api.serializers import calendar_json
from webapp.calendars import queries
from webapp.extensions import db
from webapp.models import Calendar, Project

CIPHERTEXT = b"not-a-real-ciphertext"

CASES: dict[str, dict[str, Any]] = {
    "fresh": {},
    "every field set": {
        "platform_uuid": "someone@example.com",
        "state": "disconnected",
        "meta": {"tenant_id": "42", "nested": {"list": [1, 2.5, True, None]}},
        "deduplication_key": "user-42",
        "connection_failure_data": {"code": "invalid_grant", "needs": {"who": "end_user"}, "at": None},
        "last_successful_sync_at": datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC),
        "last_attempted_sync_at": datetime(2025, 3, 4, 5, 6, 8, tzinfo=UTC),
    },
    "text that needs escaping": {
        "platform_uuid": 'quote " backslash \\ slash / tab \t newline \n',
        "deduplication_key": "héllo wörld ✓ 𝄞 \u2028",
        "meta": {"ключ": "значение", "emoji": "📅", "control": "\u0001\u001f", "<html>": "</script>"},
    },
    "empty metadata": {"meta": {}},
    "null metadata": {"meta": None},
    "timestamps at the edges of a second": {
        "created_at": datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
        "updated_at": datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    },
}


def _store(project: Project, **fields: Any) -> Calendar:
    values: dict[str, Any] = {
        "project_id": project.id,
        "platform": "google",
        "client_id": "123456789-abc.apps.googleusercontent.com",
        "client_secret_ciphertext": CIPHERTEXT,
        "refresh_token_ciphertext": crypto.encrypt("1//04refresh-token-value"),
        **fields,
    }
    calendar = Calendar(**values)
    db.session.add(calendar)
    db.session.commit()
    return calendar


@pytest.mark.parametrize("case", CASES)
def test_detail_document_equals_the_serializer(app: Flask, project: Project, case: str) -> None:
    calendar = _store(project, **CASES[case])
    text = queries.get_calendar_document(project=project, object_id=calendar.object_id)
    document = json.loads(text)
    assert document == calendar_json(calendar)
    assert list(document) == list(calendar_json(calendar))  # the contract's key order
    assert "ciphertext" not in text and "refresh" not in text


@pytest.mark.openapi_unchecked  # rows written around the API: nested metadata no request can store
def test_list_documents_equal_the_serializer(
    app: Flask, client: FlaskClient, project: Project, auth: dict[str, str]
) -> None:
    stored = [_store(project, **fields) for fields in CASES.values()]
    response = client.get("/api/v1/calendars", headers=auth)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    results = response.get_json()["results"]
    assert results == [calendar_json(c) for c in reversed(stored)]  # newest first


def test_detail_response_is_the_document(
    app: Flask, client: FlaskClient, project: Project, auth: dict[str, str]
) -> None:
    calendar = _store(project, **CASES["text that needs escaping"])
    response = client.get(f"/api/v1/calendars/{calendar.object_id}", headers=auth)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_json() == calendar_json(calendar)


def test_read_statements_are_cacheable() -> None:
    """A construct without a cache key makes SQLAlchemy compile the statement on every request."""
    from webapp.events import queries as events

    statements = [queries._CALENDAR_DOCUMENT]
    for filters in (frozenset(), frozenset({"deduplication_key"})):
        built = queries._list_statements(filters, 25)
        statements += [built.first, built.after, built.before]
    built = events._list_statements(frozenset({"calendar_id"}), "-updated_at")
    statements += [built.first, built.after, built.before]
    for statement in statements:
        assert statement._generate_cache_key() is not None, statement
