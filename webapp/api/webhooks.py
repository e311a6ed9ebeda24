"""The webhook endpoints API: parse, call one service function, serialize."""

from __future__ import annotations

from flask import Response, g, request
from flask.typing import ResponseReturnValue

from webapp.api import pagination, parsing
from webapp.api.blueprint import bp
from webapp.api.objects import WEBHOOK, WEBHOOK_CREATE, WEBHOOK_DELIVERY, WEBHOOK_PATCH, WEBHOOK_SECRET
from webapp.api.serializers import iso
from webapp.errors import BadQuery
from webapp.models import DeliveryStatus
from webapp.rate_limits import per_project
from webapp.webhooks import queries, service

WEBHOOKS_PAGE_SIZE = 25


@bp.post("/webhooks")
def create_webhook() -> ResponseReturnValue:
    values = WEBHOOK_CREATE.parse(parsing.json_object())
    endpoint, secret = service.create_endpoint(project=g.project, **values)
    return WEBHOOK.serialize(endpoint, signing_secret=secret), 201


@bp.get("/webhooks")
def list_webhooks() -> ResponseReturnValue:
    page = queries.list_endpoints(
        project=g.project,
        cursor=pagination.decode_cursor(request.args.get("cursor")),
        page_size=pagination.page_size(WEBHOOKS_PAGE_SIZE),
    )
    return pagination.page_json(page, WEBHOOK.serialize)


@bp.post("/webhooks/rotate_secret")
def rotate_webhook_secret() -> ResponseReturnValue:
    secret, previous_expire_at = service.rotate_secret(project=g.project)
    return WEBHOOK_SECRET.serialize(None, signing_secret=secret, previous_secrets_expire_at=iso(previous_expire_at))


@bp.get("/webhooks/<webhook_id:object_id>")
def get_webhook(object_id: str) -> ResponseReturnValue:
    return WEBHOOK.serialize(queries.get_endpoint(project=g.project, object_id=object_id))


@bp.patch("/webhooks/<webhook_id:object_id>")
def patch_webhook(object_id: str) -> ResponseReturnValue:
    endpoint = queries.get_endpoint(project=g.project, object_id=object_id)
    changes = WEBHOOK_PATCH.parse(parsing.json_object())
    return WEBHOOK.serialize(service.update_endpoint(endpoint=endpoint, **changes))


@bp.delete("/webhooks/<webhook_id:object_id>")
def delete_webhook(object_id: str) -> ResponseReturnValue:
    service.delete_endpoint(endpoint=queries.get_endpoint(project=g.project, object_id=object_id))
    return Response(b"", status=200, content_type="application/json")


@bp.get("/webhooks/<webhook_id:object_id>/deliveries")
def list_webhook_deliveries(object_id: str) -> ResponseReturnValue:
    endpoint = queries.get_endpoint(project=g.project, object_id=object_id)
    status = request.args.get("status")
    allowed = list(DeliveryStatus)
    if status is not None and status not in allowed:
        raise BadQuery(f"Invalid status. Allowed values: {', '.join(allowed)}")
    page = queries.list_deliveries(
        project=g.project,
        endpoint=endpoint,
        calendar_object_id=request.args.get("calendar_id"),
        status=status,
        cursor=pagination.decode_cursor(request.args.get("cursor")),
        page_size=pagination.page_size(WEBHOOKS_PAGE_SIZE),
    )
    return pagination.page_json(page, WEBHOOK_DELIVERY.serialize)


@bp.post("/webhooks/<webhook_id:object_id>/test")
@per_project("WEBHOOK_TEST_RATE_LIMIT")
def test_webhook(object_id: str) -> ResponseReturnValue:
    endpoint = queries.get_endpoint(project=g.project, object_id=object_id)
    return WEBHOOK_DELIVERY.serialize(service.send_test(endpoint=endpoint))


@bp.post("/webhook_deliveries/<object_id>/redeliver")
@per_project("WEBHOOK_REDELIVER_RATE_LIMIT")
def redeliver_webhook_delivery(object_id: str) -> ResponseReturnValue:
    delivery = queries.get_delivery(project=g.project, object_id=object_id)
    return WEBHOOK_DELIVERY.serialize(service.redeliver(delivery=delivery)), 202
