"""Reads scoped to one project: a row of another project is as unknown as one that does not exist."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select

from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import ProjectScope
from webapp.models.ids import is_object_id

T = TypeVar("T")


def one_of_project(model: type[T], *, project: ProjectScope, object_id: str, not_found: str, prefix: str = "") -> T:
    """The *model* row (it has ``object_id`` and ``project_id``) with this public id in *project*.

    With *prefix* (``"cal_"``), an id that cannot be one of ours is refused without a query.

    :raises NotFound: with the message *not_found*: unknown id, or one of another project (the same
        answer, so that ids of other projects cannot be probed).
    """
    columns: Any = model
    row = (
        db.session.scalar(select(model).where(columns.object_id == object_id, columns.project_id == project.id))
        if not prefix or is_object_id(object_id, prefix)
        else None
    )
    if row is None:
        raise NotFound(not_found)
    return row
