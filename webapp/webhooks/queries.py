"""Reads of webhook endpoints and deliveries, always scoped to one project."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.db.keyset import Cursor, Page, keyset_page
from webapp.models import Calendar, ProjectScope, WebhookDelivery, WebhookEndpoint
from webapp.models.ids import storable
from webapp.projects.scoped import one_of_project


def get_endpoint(*, project: ProjectScope, object_id: str) -> WebhookEndpoint:
    """:raises NotFound: unknown id, or one of another project."""
    return one_of_project(WebhookEndpoint, project=project, object_id=object_id, not_found="Webhook not found")


def list_endpoints(*, project: ProjectScope, cursor: Cursor | None, page_size: int) -> Page[WebhookEndpoint]:
    """Newest first, walking the (project_id, id) index."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.project_id == project.id)
    return keyset_page(
        query,
        sort=WebhookEndpoint.id,
        id_column=WebhookEndpoint.id,
        descending=True,
        cursor=cursor,
        page_size=page_size,
    )


def get_delivery(*, project: ProjectScope, object_id: str) -> WebhookDelivery:
    """:raises NotFound: unknown id, or one of another project."""
    return one_of_project(WebhookDelivery, project=project, object_id=object_id, not_found="Webhook delivery not found")


def list_deliveries(
    *,
    project: ProjectScope,
    cursor: Cursor | None,
    page_size: int,
    endpoint: WebhookEndpoint | None = None,
    calendar_object_id: str | None = None,
    status: str | None = None,
) -> Page[WebhookDelivery]:
    """Newest first, with their attempts; per endpoint and/or per calendar (unknown calendar: none)."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.project_id == project.id)
        .options(selectinload(WebhookDelivery.attempts))
    )
    if endpoint is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint.id)
    if calendar_object_id is not None:
        if not storable(calendar_object_id):
            return Page([], None, None)  # nothing stored can match a NUL character
        calendar_ids = select(Calendar.id).where(
            Calendar.object_id == calendar_object_id, Calendar.project_id == project.id
        )
        query = query.where(WebhookDelivery.calendar_id.in_(calendar_ids))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return keyset_page(
        query,
        sort=WebhookDelivery.id,
        id_column=WebhookDelivery.id,
        descending=True,
        cursor=cursor,
        page_size=page_size,
    )
