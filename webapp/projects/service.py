"""Projects and API keys: the plaintext key exists only in the return value of its creation."""

from __future__ import annotations

import secrets

from sqlalchemy import bindparam, select

from webapp.db import autocommit
from webapp.errors import NotFound
from webapp.extensions import db, utcnow
from webapp.models import ApiKey, Project, ProjectRef


def _new_key(project: Project, name: str | None) -> tuple[ApiKey, str]:
    plaintext = secrets.token_urlsafe(32)
    key = ApiKey(project=project, name=name, key_hash=ApiKey.hash_key(plaintext))
    db.session.add(key)
    return key, plaintext


def create_project(*, name: str) -> tuple[Project, str]:
    """Create a project with a first API key; return both (the key in plaintext, shown once)."""
    project = Project(name=name)
    db.session.add(project)
    _, plaintext = _new_key(project, "default")
    db.session.commit()
    return project, plaintext


def list_projects() -> list[Project]:
    """Every project, oldest first."""
    return list(db.session.scalars(select(Project).order_by(Project.id)))


def get_project(object_id: str) -> Project:
    """:raises NotFound: no project has this id."""
    project = db.session.scalar(select(Project).where(Project.object_id == object_id))
    if project is None:
        raise NotFound(f"Project not found: {object_id}")
    return project


def create_api_key(*, project: Project, name: str | None = None) -> tuple[ApiKey, str]:
    """Add a key to *project*; return it with its plaintext (shown once)."""
    key, plaintext = _new_key(project, name)
    db.session.commit()
    return key, plaintext


def revoke_api_key(*, object_id: str) -> ApiKey:
    """Revoke a key at once (idempotent). :raises NotFound: unknown key id."""
    key = db.session.scalar(select(ApiKey).where(ApiKey.object_id == object_id))
    if key is None:
        raise NotFound(f"API key not found: {object_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return key


# Built once: constructing a statement costs more CPU than running this indexed lookup.
_PROJECT_BY_KEY_HASH = (
    select(Project.id, Project.object_id)
    .join(ApiKey, ApiKey.project_id == Project.id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


def project_for_key(plaintext: str) -> ProjectRef | None:
    """The project of a live key, by its hash (one indexed query, read outside any transaction)."""
    row = autocommit.first(_PROJECT_BY_KEY_HASH, {"key_hash": ApiKey.hash_key(plaintext)})
    return ProjectRef(row.id, row.object_id) if row is not None else None
