"""``flask oauth-apps set`` and ``flask projects allow-redirect-origin``: one JSON line each."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app

from webapp.cli_output import emit, fail
from webapp.connect import apps, urls
from webapp.db.migrations import ensure_schema
from webapp.errors import AppError
from webapp.models import Platform
from webapp.projects import service as projects


@click.group("oauth-apps")
def oauth_apps_cli() -> None:
    """Manage the OAuth apps a project's consent flow uses."""


@oauth_apps_cli.command("set")
@click.argument("project_id")
@click.argument("platform", type=click.Choice([str(p) for p in Platform]))
@click.option("--client-id", required=True, help="The OAuth client id.")
@click.option("--client-secret-stdin", is_flag=True, required=True, help="Read the client secret from stdin.")
@click.option("--tenant", default=None, help="Microsoft only: common (default), organizations, consumers or a GUID.")
def set_oauth_app(
    project_id: str, platform: str, client_id: str, client_secret_stdin: bool, tenant: str | None
) -> None:
    """Set PROJECT_ID's OAuth app for PLATFORM; prints the redirect URI to register with the provider."""
    ensure_schema()
    secret = sys.stdin.readline().strip() if client_secret_stdin else ""
    try:
        project = projects.get_project(project_id)
        app = apps.set_oauth_app(
            project=project, platform=Platform(platform), client_id=client_id, client_secret=secret, tenant=tenant
        )
    except AppError as exc:
        fail(exc)
    if not current_app.config.get("PUBLIC_BASE_URL"):
        click.echo(f"warning: PUBLIC_BASE_URL is not set; redirect_uri assumes {urls.FALLBACK_BASE_URL}", err=True)
    emit(
        {
            "project_id": project.object_id,
            "platform": app.platform,
            "client_id": app.client_id,
            "tenant": app.tenant,
            "redirect_uri": urls.callback_url(app.platform),
        }
    )


@click.command("allow-redirect-origin")
@click.argument("project_id")
@click.argument("origin")
def allow_redirect_origin(project_id: str, origin: str) -> None:
    """Let PROJECT_ID's connect sessions return to ORIGIN (scheme://host[:port])."""
    ensure_schema()
    try:
        project = projects.get_project(project_id)
        row = apps.allow_redirect_origin(project=project, origin=origin)
    except AppError as exc:
        fail(exc)
    emit({"project_id": project.object_id, "origin": row.origin})


def register(app: Flask, projects_cli: click.Group) -> None:
    app.cli.add_command(oauth_apps_cli)
    projects_cli.add_command(allow_redirect_origin)
