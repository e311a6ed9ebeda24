"""The dashboard's Flask-WTF forms: field errors beside their fields, nothing stored, tokens on every form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.dashboard.conftest import ADMIN_EMAIL, disconnect, log_in
from webapp.extensions import db
from webapp.models import AdminUser, ApiKey, ConnectRedirectOrigin, OAuthApp, Project, WebhookEndpoint


def settings_url(project: Project) -> str:
    return f"/dashboard/projects/{project.object_id}/settings"


def field_errors(body: str, field_id: str) -> str:
    """The errors shown beside the input *field_id* (which points at them), or ``""``."""
    found = re.search(rf'<input aria-describedby="{field_id}-errors" aria-invalid="true"[^>]* id="{field_id}"', body)
    if found is None:
        return ""
    errors = re.search(rf'<span class="field-errors" id="{field_id}-errors">([^<]*)</span>', body)
    assert errors is not None, body
    return errors.group(1)


def test_a_blank_login_shows_what_is_missing_and_counts_no_failure(client: FlaskClient, admin: AdminUser) -> None:
    response = log_in(client, email="   ", password="")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(body, "email") == "This field is required."
    assert field_errors(body, "password") == "This field is required."
    db.session.expire_all()
    assert db.session.get(AdminUser, admin.id).failed_login_count == 0  # type: ignore[union-attr]


def test_a_failed_login_keeps_the_email_but_never_the_password(client: FlaskClient, admin: AdminUser) -> None:
    body = log_in(client, password="not the password").get_data(as_text=True)
    assert f'value="{ADMIN_EMAIL}"' in body and "not the password" not in body
    assert "Invalid email or password." in body and field_errors(body, "email") == ""


@pytest.mark.parametrize(
    ("path", "data", "field_id", "message", "model"),
    [
        (
            "/api-keys",
            {"name": "k" * 256},
            "api-key-name",
            "Ensure this field has no more than 255 characters.",
            ApiKey,
        ),
        (
            "/oauth-apps/google",
            {"client_id": "  ", "client_secret": "s"},
            "client-id-google",
            "This field may not be blank.",
            OAuthApp,
        ),
        (
            "/oauth-apps/microsoft",
            {"client_id": "c", "client_secret": ""},
            "client-secret-microsoft",
            "This field may not be blank.",
            OAuthApp,
        ),
        (
            "/origins",
            {"origin": "https://app.example.com/path"},
            "origin",
            "Enter an origin such as https://app.example.com (no path).",
            ConnectRedirectOrigin,
        ),
        (
            "/origins",
            {"origin": "https://" + "a" * 250 + ".example"},
            "origin",
            "Ensure this field has no more than 255 characters.",
            ConnectRedirectOrigin,
        ),
        ("/webhooks", {"url": ""}, "webhook-url", "This field may not be blank.", WebhookEndpoint),
        ("/webhooks", {"url": "ftp://hooks.example.com"}, "webhook-url", "", WebhookEndpoint),
    ],
)
def test_refused_settings_show_their_errors_beside_the_field_and_store_nothing(
    dash: FlaskClient, project: Project, path: str, data: dict[str, str], field_id: str, message: str, model: Any
) -> None:
    before = db.session.scalar(db.select(db.func.count()).select_from(model))
    response = dash.post(settings_url(project) + path, data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    shown = field_errors(body, field_id)
    assert shown != "" and (message == "" or shown == message), shown
    assert db.session.scalar(db.select(db.func.count()).select_from(model)) == before
    assert "shown only once" not in body


def test_the_other_forms_of_a_refused_page_stay_empty(dash: FlaskClient, project: Project) -> None:
    body = dash.post(settings_url(project) + "/origins", data={"origin": "nope", "url": "https://x.example"}).get_data(
        as_text=True
    )
    assert field_errors(body, "origin") != "" and field_errors(body, "webhook-url") == ""
    assert (
        'id="webhook-url" maxlength="2048" name="url" placeholder="https://app.example.com/webhooks/calendar" ' in body
    )
    assert 'value="https://x.example"' not in body


def test_an_oauth_app_form_shows_the_stored_client_id_and_tenant_never_the_secret(
    dash: FlaskClient, project: Project
) -> None:
    data = {"client_id": "ms-id", "client_secret": "ms-secret", "tenant": "contoso"}
    assert dash.post(settings_url(project) + "/oauth-apps/microsoft", data=data).status_code == 303
    body = dash.get(settings_url(project)).get_data(as_text=True)
    assert 'id="client-id-microsoft" maxlength="255" name="client_id" required type="text" value="ms-id"' in body
    assert 'value="contoso"' in body and "ms-secret" not in body


def _post_forms(body: str) -> list[str]:
    return re.findall(r'<form method="post".*?</form>', body, flags=re.DOTALL)


def test_every_form_of_every_page_carries_a_token_that_is_accepted(
    app: Flask, dash: FlaskClient, project: Project, make_calendar: Any
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    calendar = make_calendar(deduplication_key="tokens")
    disconnect(calendar["id"])
    dash.post(settings_url(project) + "/webhooks", data={"url": "https://hooks.example.com/x"})  # refused: no token
    base = f"/dashboard/projects/{project.object_id}"
    pages = [
        f"{base}/settings",
        f"{base}/calendars/{calendar['id']}",
        f"{base}/calendars/{calendar['id']}/delete",
        f"{base}/failures",
        "/dashboard/",
    ]
    forms = [form for page in pages for form in _post_forms(dash.get(page).get_data(as_text=True))]
    assert len(forms) >= 12
    for form in forms:
        assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]+">', form), form
    token = re.search(r'name="csrf_token" value="([^"]+)"', forms[0])
    assert token is not None
    added = dash.post(
        settings_url(project) + "/webhooks", data={"url": "https://hooks.example.com/x", "csrf_token": token.group(1)}
    )
    assert added.status_code == 303
    assert db.session.scalar(db.select(db.func.count()).select_from(WebhookEndpoint)) == 1
