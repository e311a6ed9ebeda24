"""Command line: ``flask projects|api-keys|crypto|serve``. Each data command prints one JSON line."""

from __future__ import annotations

import sys
from datetime import UTC

import click
from flask import Flask
from sqlalchemy import select

from webapp import crypto
from webapp.calendars.credentials import write_credentials
from webapp.cli_output import emit, fail
from webapp.db.migrations import ensure_schema
from webapp.errors import AppError
from webapp.extensions import db
from webapp.models import Calendar
from webapp.projects import branding
from webapp.projects import service as projects


@click.group("projects")
def projects_cli() -> None:
    """Manage projects."""


@projects_cli.command("create")
@click.argument("name")
def create_project(name: str) -> None:
    """Create a project and its first API key (shown once)."""
    ensure_schema()
    project, key = projects.create_project(name=name)
    emit({"project_id": project.object_id, "api_key": key})


@projects_cli.command("list")
def list_projects() -> None:
    """Print every project, one JSON object per line (no secrets), oldest first."""
    ensure_schema()
    for project in projects.list_projects():
        emit(
            {
                "project_id": project.object_id,
                "name": project.name,
                "created_at": project.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            }
        )


@projects_cli.command("set-branding")
@click.argument("project_id")
@click.option("--display-name", default=None, help="Name shown to end users (default: the project's name).")
@click.option("--logo-url", default=None, help="https:// URL of the logo image.")
@click.option("--accent-color", default=None, help="Accent colour as #rrggbb.")
@click.option("--support-url", default=None, help="http(s) URL of the support page.")
@click.option("--privacy-url", default=None, help="http(s) URL of the privacy policy.")
@click.option("--terms-url", default=None, help="http(s) URL of the terms of service.")
def set_branding(project_id: str, **options: str | None) -> None:
    """Set PROJECT_ID's branding of the end-user pages; an option left out is unchanged, '' clears it."""
    ensure_schema()
    changes = {name: value for name, value in options.items() if value is not None}
    try:
        project = branding.set_branding(project=projects.get_project(project_id), changes=changes)
    except AppError as exc:
        fail(exc)
    emit({"project_id": project.object_id, "branding": branding.as_dict(project)})


@click.group("api-keys")
def api_keys_cli() -> None:
    """Manage API keys."""


@api_keys_cli.command("create")
@click.argument("project_id")
@click.option("--name", default=None, help="A label for the key.")
def create_api_key(project_id: str, name: str | None) -> None:
    """Create an API key for PROJECT_ID (shown once)."""
    ensure_schema()
    try:
        key, plaintext = projects.create_api_key(project=projects.get_project(project_id), name=name)
    except AppError as exc:
        fail(exc)
    emit({"id": key.object_id, "api_key": plaintext})


@api_keys_cli.command("revoke")
@click.argument("key_id")
def revoke_api_key(key_id: str) -> None:
    """Revoke KEY_ID at once."""
    ensure_schema()
    try:
        key = projects.revoke_api_key(object_id=key_id)
    except AppError as exc:
        fail(exc)
    emit({"id": key.object_id, "revoked": True})


@click.group("crypto")
def crypto_cli() -> None:
    """Manage encryption of secrets at rest."""


def undecryptable_calendars(limit: int | None = None) -> tuple[int, list[str]]:
    """Try the configured keys on stored secrets (newest calendars first); returns (checked, failing ids)."""
    query = select(Calendar.object_id, Calendar.client_secret_ciphertext, Calendar.refresh_token_ciphertext)
    rows = db.session.execute(query.order_by(Calendar.id.desc()).limit(limit)).all()
    failing = []
    for object_id, secret, token in rows:
        try:
            crypto.decrypt(secret)
            crypto.decrypt(token)
        except crypto.InvalidToken:
            failing.append(object_id)
    return len(rows), failing


@crypto_cli.command("check")
def check() -> None:
    """Check that every stored secret decrypts with CREDENTIALS_ENCRYPTION_KEYS (exit 1 if not)."""
    ensure_schema()
    checked, failing = undecryptable_calendars()
    emit({"checked": checked, "undecryptable": failing})
    if failing:
        sys.exit(1)


@crypto_cli.command("rotate")
@click.option("--batch-size", default=500, show_default=True)
def rotate(batch_size: int) -> None:
    """Re-encrypt every stored secret under the first key of CREDENTIALS_ENCRYPTION_KEYS."""
    ensure_schema()
    rotated, failed, last_id = 0, [], 0
    while True:
        batch = list(
            db.session.scalars(select(Calendar).where(Calendar.id > last_id).order_by(Calendar.id).limit(batch_size))
        )
        if not batch:
            break
        for calendar in batch:
            last_id = calendar.id
            try:
                write_credentials(calendar, reencrypt=True)
            except crypto.InvalidToken:
                failed.append(calendar.object_id)  # left untouched: never overwrite what we cannot read
                continue
            rotated += 1
        db.session.commit()
    emit({"rotated": rotated, "undecryptable": failed})
    if failed:
        sys.exit(1)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Web worker processes.")
@click.option(
    "--with-worker/--without-worker",
    default=True,
    show_default=True,
    help="Also run a Celery worker and the beat scheduler, restarted if they exit (one-machine setup).",
)
@click.option(
    "--worker-concurrency", default=None, type=int, help="Sync worker threads [default: SYNC_CONCURRENCY, 16]."
)
def serve(host: str, port: int, workers: int, with_worker: bool, worker_concurrency: int | None) -> None:
    """Apply migrations, then serve the app with gunicorn, and run the sync worker and scheduler, supervised."""
    from webapp.observability.processes import prepare_metrics_dir
    from webapp.runtime import supervisor

    try:
        listener = supervisor.bind(host, port)  # a taken port is refused before anything starts
    except supervisor.PortInUse as exc:
        raise click.ClickException(str(exc)) from None
    ensure_schema()
    _warn_if_keys_do_not_fit()
    prepare_metrics_dir()  # multi-process metrics of gunicorn and the worker start from zero
    # End the start-up checks' transaction: left open for the supervisor's whole life, it kept
    # PostgreSQL from vacuuming any row updated since (bench/scale.py: the calendar table 89 % dead).
    db.session.remove()
    db.engine.dispose()  # no pooled connection may cross into the children
    click.echo(f"Serving on http://{host}:{port}", err=True)
    sys.exit(
        supervisor.serve(listener, workers=workers, with_worker=with_worker, worker_concurrency=worker_concurrency)
    )


def _warn_if_keys_do_not_fit() -> None:
    """At start-up, one clear message (not one failure per calendar) when a key was removed or changed."""
    checked, failing = undecryptable_calendars(limit=20)
    if failing:
        click.echo(
            f"WARNING: {len(failing)} of the {checked} newest calendars cannot be decrypted with "
            "CREDENTIALS_ENCRYPTION_KEYS: a key was probably removed or changed. Their syncs will fail with "
            "credentials_undecryptable until the key is restored (`flask crypto check` lists them).",
            err=True,
        )


def register_cli(app: Flask) -> None:
    for command in (projects_cli, api_keys_cli, crypto_cli, serve):
        app.cli.add_command(command)
    from webapp.onboarding.cli import register as register_onboarding_cli

    register_onboarding_cli(app, projects_cli)
    from webapp.dashboard.cli import register as register_dashboard_cli

    register_dashboard_cli(app)
