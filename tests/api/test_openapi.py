"""The OpenAPI document describes every API route, and real responses validate against it."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

PREFIX = "/api/v1"


def _document(client: FlaskClient) -> dict[str, Any]:
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    assert document["openapi"].startswith("3.1")
    return document


def _validate(document: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    operation = document["paths"][path][method]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    Draft202012Validator({"components": document["components"], **schema}).validate(body)


def test_every_api_route_and_method_is_described(app: Flask, client: FlaskClient) -> None:
    document = _document(client)
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX) :])
        assert path in document["paths"], f"{rule.rule} is not described"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], f"{method} {rule.rule} is not described"


def test_real_responses_validate(client: FlaskClient, auth: dict[str, str], make_calendar: Any) -> None:
    document = _document(client)
    created = make_calendar()
    _validate(document, "/calendars", "post", 201, created)
    listed = client.get(f"{PREFIX}/calendars", headers=auth).get_json()
    _validate(document, "/calendars", "get", 200, listed)
    one = client.get(f"{PREFIX}/calendars/{created['id']}", headers=auth).get_json()
    _validate(document, "/calendars/{object_id}", "get", 200, one)
    patched = client.patch(f"{PREFIX}/calendars/{created['id']}", json={"metadata": {"a": "b"}}, headers=auth)
    _validate(document, "/calendars/{object_id}", "patch", 200, patched.get_json())
    invalid = client.post(f"{PREFIX}/calendars", json={}, headers=auth)
    _validate(document, "/calendars", "post", 400, invalid.get_json())
    missing = client.get(f"{PREFIX}/calendars/cal_nope", headers=auth)
    _validate(document, "/calendars/{object_id}", "get", 404, missing.get_json())
    unauthenticated = client.get(f"{PREFIX}/calendars")
    _validate(document, "/calendars", "get", 401, unauthenticated.get_json())
