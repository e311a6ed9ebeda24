"""``flask users create-admin|add-to-project``: dashboard accounts. Each command prints one JSON line."""

from __future__ import annotations

import sys

import click
from flask import Flask

from webapp.cli_output import emit, fail
from webapp.dashboard import accounts
from webapp.db.migrations import ensure_schema
from webapp.errors import AppError


def _read_password() -> str:
    """From standard input when it is piped (first line), else a hidden prompt with confirmation."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@click.group("users")
def users_cli() -> None:
    """Manage dashboard administrators."""


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--project", "project_ids", multiple=True, help="A project id the admin may manage (repeatable).")
def create_admin(email: str, project_ids: tuple[str, ...]) -> None:
    """Create an admin; the password is read from standard input or a prompt, never an argument."""
    ensure_schema()
    password = _read_password()
    try:
        admin = accounts.create_admin(email=email, password=password, project_ids=list(project_ids))
    except AppError as exc:
        fail(exc)
    emit({"id": admin.object_id, "email": admin.email, "projects": accounts.project_ids_of(admin)})


@users_cli.command("add-to-project")
@click.argument("email")
@click.argument("project_id")
def add_to_project(email: str, project_id: str) -> None:
    """Let the admin EMAIL manage PROJECT_ID."""
    ensure_schema()
    try:
        admin = accounts.add_to_project(email=email, project_id=project_id)
    except AppError as exc:
        fail(exc)
    emit({"id": admin.object_id, "email": admin.email, "projects": accounts.project_ids_of(admin)})


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
