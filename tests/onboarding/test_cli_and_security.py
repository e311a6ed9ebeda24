"""CLI commands, CSRF on the onboarding forms, security headers, the Microsoft issuer check."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient

from emulator.servers import service_settings
from webapp import crypto
from webapp.connect import apps, sessions
from webapp.extensions import db
from webapp.models import OAuthApp, Platform, Project
from webapp.providers import oauth


def test_oauth_apps_set_reads_the_secret_from_stdin(app: Flask, project: Project) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://connect.example.com"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["oauth-apps", "set", project.object_id, "microsoft", "--client-id", "ms-app", "--client-secret-stdin"],
        input="very-secret\n",
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip())
    assert line == {
        "project_id": project.object_id,
        "platform": "microsoft",
        "client_id": "ms-app",
        "tenant": "common",
        "redirect_uri": "https://connect.example.com/connect/callback/microsoft",
    }
    assert "very-secret" not in result.output
    row = db.session.scalar(db.select(OAuthApp))
    assert row is not None and crypto.decrypt(row.client_secret_ciphertext) == "very-secret"

    again = runner.invoke(
        args=["oauth-apps", "set", project.object_id, "google", "--client-id", "g", "--client-secret-stdin"],
        input="s2\n",
    )
    assert json.loads(again.stdout.strip())["tenant"] is None
    bad = runner.invoke(
        args=["oauth-apps", "set", "proj_nope", "google", "--client-id", "g", "--client-secret-stdin"], input="s\n"
    )
    assert bad.exit_code == 1


def test_allow_redirect_origin_command(app: Flask, project: Project) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["projects", "allow-redirect-origin", project.object_id, "HTTPS://App.Example.com:443"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip()) == {"project_id": project.object_id, "origin": "https://app.example.com"}
    assert apps.redirect_allowed(project, "https://app.example.com/x")
    bad = runner.invoke(args=["projects", "allow-redirect-origin", project.object_id, "https://a.example.com/path"])
    assert bad.exit_code == 1


def test_instance_defaults_and_project_app_precedence(app: Flask, project: Project) -> None:
    assert apps.credentials_for(project, Platform.GOOGLE) is None
    app.config.update(GOOGLE_CLIENT_ID="default-id", GOOGLE_CLIENT_SECRET="default-secret")
    default = apps.credentials_for(project, Platform.GOOGLE)
    assert default is not None and default.client_id == "default-id"
    apps.set_oauth_app(project=project, platform=Platform.GOOGLE, client_id="own", client_secret="own-secret")
    own = apps.credentials_for(project, Platform.GOOGLE)
    assert own is not None and (own.client_id, own.client_secret) == ("own", "own-secret")


def test_a_form_post_without_csrf_token_is_refused_with_a_clear_page(
    app: Flask, client: FlaskClient, project: Project
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True  # TestConfig turns it off; production has it on
    app.config.update(service_settings("http://127.0.0.2:1", "http://127.0.0.3:1"))  # never contacted
    apps.set_oauth_app(project=project, platform=Platform.GOOGLE, client_id="g", client_secret="s")
    _, token = sessions.create_session(project=project)
    response = client.post(f"/connect/{token}/start/google")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please reload the page" in html and "Traceback" not in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    # The page's own form carries a token, and that token is accepted.
    page = client.get(f"/connect/{token}").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    accepted = client.post(f"/connect/{token}/start/google", data={"csrf_token": csrf})
    assert accepted.status_code == 302


def test_security_headers_on_pages_but_not_on_the_api(client: FlaskClient, auth: dict[str, str]) -> None:
    page = client.get("/connect/unknown")
    assert page.status_code == 404
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
    assert "form-action 'self'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Referrer-Policy"] == "no-referrer"
    api = client.get("/api/v1/calendars", headers=auth)
    assert "Content-Security-Policy" not in api.headers


def test_microsoft_issuer_is_checked_against_the_tokens_own_tenant() -> None:
    base = "https://login.microsoftonline.com"
    tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    claims = {"tid": tid}

    def ok(value: str, tenant: str | None = "common") -> bool:
        return oauth.microsoft_issuer_ok(claims, value, login_base=base, tenant=tenant)

    assert ok(f"{base}/{tid}/v2.0")
    assert not ok(f"{base}/{{tenantid}}/v2.0")
    assert not ok(f"{base}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")  # a foreign tenant's issuer
    assert not ok(f"https://evil.example.com/{tid}/v2.0")
    assert not oauth.microsoft_issuer_ok({}, f"{base}/{tid}/v2.0", login_base=base, tenant="common")
    assert ok(f"{base}/{tid}/v2.0", tenant=tid)
    assert not ok(f"{base}/{tid}/v2.0", tenant="11111111-2222-3333-4444-555555555555")
