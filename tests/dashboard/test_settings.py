"""Settings: API keys, OAuth apps, redirect origins, webhook endpoints and the signing secret."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from webapp.extensions import db
from webapp.models import ApiKey, ConnectRedirectOrigin, OAuthApp, Project, WebhookEndpoint
from webapp.projects import service as projects


def settings_url(project: Project) -> str:
    return f"/dashboard/projects/{project.object_id}/settings"


def test_settings_page(dash: FlaskClient, project: Project) -> None:
    body = dash.get(settings_url(project)).get_data(as_text=True)
    assert "API keys" in body and "OAuth apps" in body and "Allowed redirect origins" in body and "Webhooks" in body
    assert "http://localhost/connect/callback/google" in body
    assert "http://localhost/connect/callback/microsoft" in body


def test_create_an_api_key_shown_once_then_revoke_it(dash: FlaskClient, project: Project, client: FlaskClient) -> None:
    response = dash.post(settings_url(project) + "/api-keys", data={"name": "ci"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "shown only once" in body
    plaintext = re.search(r'id="new-api-key" type="text" readonly value="([^"]+)"', body)
    assert plaintext is not None
    headers = {"Authorization": f"Token {plaintext.group(1)}"}
    assert client.get("/api/v1/calendars", headers=headers).status_code == 200
    assert plaintext.group(1) not in dash.get(settings_url(project)).get_data(as_text=True)  # only once
    key = db.session.scalar(db.select(ApiKey).where(ApiKey.name == "ci"))
    assert key is not None
    revoked = dash.post(settings_url(project) + f"/api-keys/{key.object_id}/revoke")
    assert revoked.status_code == 303
    assert client.get("/api/v1/calendars", headers=headers).status_code == 401


def test_another_projects_key_cannot_be_revoked(dash: FlaskClient, project: Project) -> None:
    other, _ = projects.create_project(name="Other")
    key, _ = projects.create_api_key(project=other, name="theirs")
    assert dash.post(settings_url(project) + f"/api-keys/{key.object_id}/revoke").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is None  # type: ignore[union-attr]


def test_set_oauth_apps(dash: FlaskClient, project: Project) -> None:
    response = dash.post(
        settings_url(project) + "/oauth-apps/microsoft",
        data={"client_id": "ms-client", "client_secret": "ms-secret", "tenant": "organizations"},
    )
    assert response.status_code == 303
    row = db.session.scalar(db.select(OAuthApp).where(OAuthApp.project_id == project.id))
    assert row is not None and row.client_id == "ms-client" and row.tenant == "organizations"
    body = dash.get(settings_url(project)).get_data(as_text=True)
    assert "ms-client" in body and "ms-secret" not in body
    blank = dash.post(settings_url(project) + "/oauth-apps/google", data={"client_id": "", "client_secret": ""})
    assert blank.status_code == 400 and "may not be blank" in blank.get_data(as_text=True)
    assert dash.post(settings_url(project) + "/oauth-apps/zoom", data={}).status_code == 404


def test_allowed_redirect_origins(dash: FlaskClient, project: Project) -> None:
    assert dash.post(settings_url(project) + "/origins", data={"origin": "https://App.example.com"}).status_code == 303
    row = db.session.scalar(db.select(ConnectRedirectOrigin))
    assert row is not None and row.origin == "https://app.example.com"
    bad = dash.post(settings_url(project) + "/origins", data={"origin": "https://app.example.com/path"})
    assert bad.status_code == 400 and "no path" in bad.get_data(as_text=True)
    assert dash.post(settings_url(project) + f"/origins/{row.id}/delete").status_code == 303
    assert db.session.scalar(db.select(ConnectRedirectOrigin)) is None


def test_webhook_endpoints_and_signing_secret(dash: FlaskClient, project: Project) -> None:
    created = dash.post(settings_url(project) + "/webhooks", data={"url": "https://hooks.example.com/cal"})
    assert created.status_code == 303
    endpoint = db.session.scalar(db.select(WebhookEndpoint))
    assert endpoint is not None
    assert "https://hooks.example.com/cal" in dash.get(settings_url(project)).get_data(as_text=True)
    bad = dash.post(settings_url(project) + "/webhooks", data={"url": "ftp://x"})
    assert bad.status_code == 400
    shown = dash.post(settings_url(project) + "/webhook-secret").get_data(as_text=True)
    first = re.search(r'id="signing-secret" type="text" readonly value="([^"]+)"', shown)
    assert first is not None
    rotated = dash.post(settings_url(project) + "/webhook-secret/rotate").get_data(as_text=True)
    second = re.search(r'id="signing-secret" type="text" readonly value="([^"]+)"', rotated)
    assert second is not None and second.group(1) != first.group(1)
    assert "the previous one keeps signing until" in rotated
    assert dash.post(settings_url(project) + f"/webhooks/{endpoint.object_id}/delete").status_code == 303
    assert db.session.scalar(db.select(WebhookEndpoint)) is None
