"""``/api/v1/webhooks``: happy paths, the calendars API's error shapes, and project isolation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.openapi_responses import openapi_checked
from tests.webhooks.conftest import Receiver, Reply, record_committed
from webapp.extensions import utcnow
from webapp.models import Calendar, WebhookEndpoint
from webapp.webhooks import delivery, signing

# Every API answer of these tests is checked against the OpenAPI document.
pytestmark = pytest.mark.usefixtures(openapi_checked.__name__)

PREFIX = "/api/v1"
BOTH = ["calendar.state_change", "calendar.events_update"]


def _create(client: FlaskClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(f"{PREFIX}/webhooks", json={"url": "https://hooks.example.com/in", **body}, headers=auth)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def test_create_returns_the_endpoint_and_the_signing_secret(client: FlaskClient, auth: dict[str, str]) -> None:
    created = _create(client, auth)
    assert list(created) == [
        "id",
        "url",
        "triggers",
        "state",
        "paused_reason",
        "failure_count",
        "created_at",
        "updated_at",
        "signing_secret",
    ]
    assert created["id"].startswith("wh_") and len(created["id"]) == 19
    assert created["triggers"] == BOTH and created["state"] == "active" and created["paused_reason"] is None
    assert len(base64.b64decode(created["signing_secret"])) == 32
    again = _create(client, auth, triggers=["calendar.events_update"], state="paused")
    assert again["signing_secret"] == created["signing_secret"]  # one secret per project
    assert again["triggers"] == ["calendar.events_update"] and again["state"] == "paused"
    shown = client.get(f"{PREFIX}/webhooks/{created['id']}", headers=auth).get_json()
    assert "signing_secret" not in shown


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"url": ["This field is required."]}),
        ({"url": None}, {"url": ["This field may not be null."]}),
        ({"url": "  "}, {"url": ["This field may not be blank."]}),
        ({"url": ["x"]}, {"url": ["Not a valid string."]}),
        ({"url": "ftp://example.com/x"}, {"url": ["Enter a valid URL."]}),
        ({"url": "https://" + "a" * 2048}, {"url": ["Ensure this field has no more than 2048 characters."]}),
        (
            {"url": "https://x.example", "triggers": "calendar.state_change"},
            {"triggers": ['Expected a list of items but got type "str".']},
        ),
        ({"url": "https://x.example", "triggers": []}, {"triggers": ["This selection may not be empty."]}),
        (
            {"url": "https://x.example", "triggers": ["calendar.created"]},
            {"triggers": ['"calendar.created" is not a valid choice.']},
        ),
        ({"url": "https://x.example", "state": "off"}, {"state": ['"off" is not a valid choice.']}),
        (
            {"triggers": None, "state": None},
            {
                "url": ["This field is required."],
                "triggers": ["This field may not be null."],
                "state": ["This field may not be null."],
            },
        ),
        (
            {"url": "https://x.example", "secret": "x", "a": 1},
            {"non_field_errors": ["Unexpected field(s): a, secret. Allowed fields are: state, triggers, url"]},
        ),
    ],
)
def test_create_validation(client: FlaskClient, auth: dict[str, str], body: dict[str, Any], errors: Any) -> None:
    response = client.post(f"{PREFIX}/webhooks", json=body, headers=auth)
    assert response.status_code == 400
    assert response.get_json() == errors


def test_framework_errors_keep_their_shapes(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(f"{PREFIX}/webhooks", json=[1], headers=auth)
    assert response.get_json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    response = client.post(f"{PREFIX}/webhooks", data="{", content_type="application/json", headers=auth)
    assert response.status_code == 400 and response.get_json()["detail"].startswith("JSON parse error - ")
    assert client.get(f"{PREFIX}/webhooks").status_code == 401
    response = client.put(f"{PREFIX}/webhooks", headers=auth)
    assert response.status_code == 405 and response.get_json() == {"detail": 'Method "PUT" not allowed.'}
    assert client.get(f"{PREFIX}/webhooks?cursor=nope", headers=auth).get_json() == {"detail": "Invalid cursor"}


def test_private_literals_and_plain_http_in_production_are_refused(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    response = client.post(f"{PREFIX}/webhooks", json={"url": "http://169.254.169.254/latest"}, headers=auth)
    assert response.get_json() == {"url": ["169.254.169.254 is a metadata address."]}
    app.config["APP_ENV"] = "production"
    response = client.post(f"{PREFIX}/webhooks", json={"url": "http://hooks.example.com/"}, headers=auth)
    assert response.status_code == 400
    assert response.get_json() == {"url": ["The URL must use https."]}


def test_list_is_paginated_newest_first(client: FlaskClient, auth: dict[str, str], other_auth: dict[str, str]) -> None:
    ids = [_create(client, auth)["id"] for _ in range(3)]
    _create(client, other_auth)
    first = client.get(f"{PREFIX}/webhooks?page_size=2", headers=auth).get_json()
    assert [w["id"] for w in first["results"]] == ids[::-1][:2] and first["previous"] is None
    second = client.get(first["next"], headers=auth).get_json()
    assert [w["id"] for w in second["results"]] == [ids[0]] and second["next"] is None
    bad = client.get(f"{PREFIX}/webhooks?page_size=0", headers=auth)
    assert bad.status_code == 400 and bad.get_json() == {"error": "Invalid page_size. Use an integer from 1 to 100."}


def test_patch_and_delete(client: FlaskClient, auth: dict[str, str]) -> None:
    created = _create(client, auth)
    url = f"{PREFIX}/webhooks/{created['id']}"
    patched = client.patch(url, json={"state": "paused", "triggers": ["calendar.state_change"]}, headers=auth)
    assert patched.status_code == 200
    body = patched.get_json()
    assert body["state"] == "paused" and body["paused_reason"] == "Paused through the API."
    assert body["triggers"] == ["calendar.state_change"]
    resumed = client.patch(url, json={"state": "active", "url": "https://new.example.com/h"}, headers=auth).get_json()
    assert (
        resumed["state"] == "active"
        and resumed["paused_reason"] is None
        and resumed["url"] == "https://new.example.com/h"
    )
    assert client.patch(url, json={}, headers=auth).status_code == 200
    invalid = client.patch(url, json={"triggers": ["nope"], "id": "x"}, headers=auth)
    assert invalid.get_json() == {"triggers": ['"nope" is not a valid choice.']}
    unknown = client.patch(url, json={"id": "x"}, headers=auth)
    assert unknown.get_json() == {
        "non_field_errors": ["Unexpected field(s): id. Allowed fields are: state, triggers, url"]
    }
    deleted = client.delete(url, headers=auth)
    assert deleted.status_code == 200 and deleted.data == b""
    assert client.get(url, headers=auth).get_json() == {"error": "Webhook not found"}


def test_another_projects_webhook_is_not_found(
    client: FlaskClient,
    auth: dict[str, str],
    other_auth: dict[str, str],
    calendar: Calendar,
    endpoint: WebhookEndpoint,
) -> None:
    [pending] = record_committed(calendar, "calendar.state_change")
    url = f"{PREFIX}/webhooks/{endpoint.object_id}"
    not_found = {"error": "Webhook not found"}
    for response in (
        client.get(url, headers=other_auth),
        client.patch(url, json={"state": "paused"}, headers=other_auth),
        client.delete(url, headers=other_auth),
        client.get(f"{url}/deliveries", headers=other_auth),
        client.post(f"{url}/test", headers=other_auth),
        client.get(f"{PREFIX}/webhooks/wh_unknown", headers=auth),
    ):
        assert response.status_code == 404
        assert response.get_json() == not_found
    response = client.post(f"{PREFIX}/webhook_deliveries/{pending.object_id}/redeliver", headers=other_auth)
    assert response.status_code == 404 and response.get_json() == {"error": "Webhook delivery not found"}
    assert client.get(url, headers=auth).status_code == 200  # untouched


def test_deliveries_show_their_attempts_and_can_be_redelivered(
    app: Flask,
    client: FlaskClient,
    auth: dict[str, str],
    calendar: Calendar,
    endpoint: WebhookEndpoint,
    receiver: Receiver,
) -> None:
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 1
    receiver.planned = [Reply(500, body=b"down")]
    [pending] = record_committed(calendar, "calendar.state_change")
    delivery.deliver(pending.id, now=utcnow())
    url = f"{PREFIX}/webhooks/{endpoint.object_id}/deliveries"

    [listed] = client.get(url, headers=auth).get_json()["results"]
    assert listed["id"] == pending.object_id and listed["webhook_id"] == endpoint.object_id
    assert listed["calendar_id"] == calendar.object_id and listed["status"] == "failed"
    assert listed["payload"]["idempotency_key"] == listed["idempotency_key"]
    [attempt] = listed["attempts"]
    assert attempt["status_code"] == 500 and attempt["response_body"] == "down" and attempt["latency_ms"] >= 0
    assert client.get(f"{url}?calendar_id={calendar.object_id}", headers=auth).get_json()["results"] != []
    assert client.get(f"{url}?calendar_id=cal_other", headers=auth).get_json()["results"] == []
    assert client.get(f"{url}?status=delivered", headers=auth).get_json()["results"] == []
    assert client.get(f"{url}?status=nope", headers=auth).get_json() == {
        "error": "Invalid status. Allowed values: pending, delivered, failed"
    }

    response = client.post(f"{PREFIX}/webhook_deliveries/{pending.object_id}/redeliver", headers=auth)
    assert response.status_code == 202
    assert response.get_json()["status"] == "pending" and response.get_json()["attempt_count"] == 0
    redelivered = delivery.deliver(pending.id, now=utcnow())
    assert redelivered is not None and redelivered.status == "delivered"
    first, second = receiver.requests
    assert first.body == second.body
    [listed] = client.get(url, headers=auth).get_json()["results"]
    assert [a["status_code"] for a in listed["attempts"]] == [500, 200]


def test_send_a_test_event(
    project_and_key: Any, client: FlaskClient, auth: dict[str, str], endpoint: WebhookEndpoint, receiver: Receiver
) -> None:
    client.patch(f"{PREFIX}/webhooks/{endpoint.object_id}", json={"state": "paused"}, headers=auth)
    response = client.post(f"{PREFIX}/webhooks/{endpoint.object_id}/test", headers=auth)
    assert response.status_code == 200
    sent = response.get_json()
    assert sent["trigger"] == "webhook.test" and sent["status"] == "delivered" and sent["calendar_id"] is None
    assert sent["attempts"][0]["status_code"] == 200
    [request] = receiver.requests
    assert json.loads(request.body)["trigger"] == "webhook.test"
    secret = client.post(f"{PREFIX}/webhooks/rotate_secret", headers=auth).get_json()
    assert set(secret) == {"signing_secret", "previous_secrets_expire_at"}
    current = base64.b64decode(secret["signing_secret"])
    client.post(f"{PREFIX}/webhooks/{endpoint.object_id}/test", headers=auth)
    assert signing.verify(current, receiver.requests[1].body, receiver.requests[1].headers["X-Webhook-Signature"])
    assert "X-Webhook-Signatures" in receiver.requests[1].headers


def test_rotate_secret_changes_what_create_returns(client: FlaskClient, auth: dict[str, str]) -> None:
    before = _create(client, auth)["signing_secret"]
    rotated = client.post(f"{PREFIX}/webhooks/rotate_secret", headers=auth)
    assert rotated.status_code == 200
    after = rotated.get_json()["signing_secret"]
    assert after != before
    assert _create(client, auth)["signing_secret"] == after
