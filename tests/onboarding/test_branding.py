"""Branding of the end-user pages: the CLI's validation, and every end-user page dressed safely."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.branding_rows import BAD, GOOD
from tests.emulation import ALICE
from tests.onboarding.conftest import Providers, back_from_provider, connect, new_session, to_provider
from webapp.extensions import db
from webapp.models import Project
from webapp.projects import branding

FULL = {
    "display_name": "Acme Calendar",
    "logo_url": "https://cdn.example.com/logo.svg",
    "accent_color": "#7b1fa2",
    "support_url": "https://acme.example/help",
    "privacy_url": "https://acme.example/privacy",
    "terms_url": "https://acme.example/terms",
}


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["projects", *args])


@pytest.mark.parametrize(("field", "value", "stored"), GOOD)
def test_cli_accepts_good_values(app: Flask, project: Project, field: str, value: str, stored: str | None) -> None:
    option = "--" + field.replace("_", "-")
    result = cli(app, "set-branding", project.object_id, f"{option}={value}")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["project_id"] == project.object_id and printed["branding"][field] == stored
    db.session.expire_all()
    assert getattr(db.session.get(Project, project.id), field) == stored


@pytest.mark.parametrize(("field", "value", "message"), BAD)
def test_cli_refuses_bad_values_with_a_field_error(
    app: Flask, project: Project, field: str, value: str, message: str
) -> None:
    option = "--" + field.replace("_", "-")
    result = cli(app, "set-branding", project.object_id, "--display-name=Kept?", f"{option}={value}")
    assert result.exit_code == 1
    error = json.loads(result.output.strip().splitlines()[-1])
    assert list(error) == [field] and message in error[field][0], error
    db.session.expire_all()
    row = db.session.get(Project, project.id)
    assert row is not None and row.display_name is None and getattr(row, field) is None  # nothing changed


def test_cli_unknown_project_and_unchanged_fields(app: Flask, project: Project) -> None:
    result = cli(app, "set-branding", "proj_doesnotexist00", "--accent-color=#000000")
    assert result.exit_code == 1 and json.loads(result.output) == {"error": "Project not found: proj_doesnotexist00"}
    args = [f"--{k.replace('_', '-')}={v}" for k, v in FULL.items()]
    assert cli(app, "set-branding", project.object_id, *args).exit_code == 0
    result = cli(app, "set-branding", project.object_id, "--terms-url=")
    assert json.loads(result.output)["branding"] == {**FULL, "terms_url": None}


def test_projects_list_prints_one_object_per_project(app: Flask, project: Project) -> None:
    created = json.loads(cli(app, "create", "Second").output)
    result = cli(app, "list")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line["project_id"] for line in lines] == [project.object_id, created["project_id"]]
    assert [line["name"] for line in lines] == ["Acme", "Second"]
    assert all(set(line) == {"project_id", "name", "created_at"} for line in lines)
    assert created["api_key"] not in result.output


# --- the pages ------------------------------------------------------------------------------------


def brand(project: Project, **fields: str) -> None:
    branding.set_branding(project=project, changes=fields)


def assert_branded(response: Any) -> str:
    html: str = response.get_data(as_text=True)
    assert 'id="brand-name">Acme Calendar<' in html
    assert (
        '<img class="brand-logo" src="https://cdn.example.com/logo.svg" alt="" height="40" referrerpolicy="no-referrer"'
        in html
    )
    assert '/connect/accent/7b1fa2.css"' in html
    links = (
        ("help", "support", "Support"),
        ("privacy", "privacy", "Privacy policy"),
        ("terms", "terms", "Terms of service"),
    )
    for path, key, label in links:
        assert f'href="https://acme.example/{path}" rel="noopener noreferrer" id="brand-{key}">{label}<' in html
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'self';") and csp.endswith("img-src 'self' https://cdn.example.com")
    assert "unsafe-inline" not in csp and "style=" not in html
    return html


def test_every_end_user_page_is_branded(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], providers: Providers, project: Project
) -> None:
    brand(project, **FULL)
    _, path = new_session(client, auth)
    html = assert_branded(client.get(path))  # choose
    assert "<strong>Acme Calendar</strong> would like" in html

    providers.google.settings(auto_approve=False)
    denied = back_from_provider(client, to_provider(client, path, "google"), decision="deny", account=ALICE)
    providers.google.settings(auto_approve=True)
    assert denied.response.status_code == 400
    assert_branded(denied.response)  # a failure page

    hop = connect(client, path, "google")
    done = client.get(hop.response.headers["Location"])
    assert_branded(done)  # status
    assert_branded(client.get(path))  # "this link was already used"


def test_unbranded_pages_keep_the_default_csp(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], project: Project
) -> None:
    _, path = new_session(client, auth)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert 'id="brand-name">Acme<' in html and "brand-logo" not in html and "/connect/accent/" not in html
    assert "brand-footer" not in html and "img-src" not in page.headers["Content-Security-Policy"]


def test_a_display_name_with_markup_is_text(
    flow_app: Flask, client: FlaskClient, auth: dict[str, str], project: Project
) -> None:
    brand(project, display_name='<script>alert("x")</script><b>Bold</b>')
    _, path = new_session(client, auth)
    html = client.get(path).get_data(as_text=True)
    assert "<script>alert" not in html and "<b>Bold" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;Bold&lt;/b&gt;" in html


def test_accent_stylesheet(client: FlaskClient) -> None:
    dark = client.get("/connect/accent/0b57d0.css")
    assert dark.status_code == 200 and dark.mimetype == "text/css"
    assert dark.get_data(as_text=True) == ":root { --brand: #0b57d0; --brand-text: #ffffff; }\n"
    light = client.get("/connect/accent/FFEB3B.css").get_data(as_text=True)
    assert light == ":root { --brand: #ffeb3b; --brand-text: #000000; }\n"
    for bad in ("0b57d", "0b57d0x", "red", "0b57d0%3B%7D"):
        assert client.get(f"/connect/accent/{bad}.css").status_code == 404
