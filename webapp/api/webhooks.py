"""The webhook endpoints API: parse, call one service function, serialize."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Response, g, request
from flask.typing import ResponseReturnValue

from webapp.api import pagination, parsing
from webapp.api.blueprint import bp
from webapp.api.serializers import iso
from webapp.errors import BadQuery, FieldErrors, NonFieldError
from webapp.models import (
    DeliveryStatus,
    EndpointState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookTrigger,
)
from webapp.rate_limits import per_project
from webapp.webhooks import queries, service, ssrf

WEBHOOKS_PAGE_SIZE = 25
URL_MAX_LENGTH = 2048
FIELDS = ("url", "triggers", "state")


class _Invalid(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


@dataclass(frozen=True)
class WebhookChanges:
    """The fields present in the body; absent ones stay MISSING."""

    url: str = field(default=parsing.MISSING)
    triggers: list[str] = field(default=parsing.MISSING)
    state: str = field(default=parsing.MISSING)


def _url(value: Any) -> str:
    if value is None:
        raise _Invalid("This field may not be null.")
    if not isinstance(value, str):
        raise _Invalid("Not a valid string.")
    text = value  # not trimmed: the whole value is checked against ssrf.URL_PATTERN
    if not text.strip():
        raise _Invalid("This field may not be blank.")
    if "\x00" in text:
        raise _Invalid("Null characters are not allowed.")
    if len(text) > URL_MAX_LENGTH:
        raise _Invalid(f"Ensure this field has no more than {URL_MAX_LENGTH} characters.")
    try:
        ssrf.check_url_shape(text, require_https=False)
    except ssrf.RefusedDestination as exc:
        raise _Invalid(str(exc)) from None
    return text


def _triggers(value: Any) -> list[str]:
    if value is None:
        raise _Invalid("This field may not be null.")
    if not isinstance(value, list):
        raise _Invalid(f'Expected a list of items but got type "{type(value).__name__}".')
    if not value:
        raise _Invalid("This selection may not be empty.")
    allowed = [t.value for t in WebhookTrigger]
    for item in value:
        if not isinstance(item, str) or item not in allowed:
            raise _Invalid(f'"{item}" is not a valid choice.')
    return list(dict.fromkeys(value))


def _state(value: Any) -> str:
    if value is None:
        raise _Invalid("This field may not be null.")
    if value not in [s.value for s in EndpointState]:
        raise _Invalid(f'"{value}" is not a valid choice.')
    return str(value)


_PARSERS = {"url": _url, "triggers": _triggers, "state": _state}


def parse_webhook(data: dict[str, Any], *, required: tuple[str, ...]) -> WebhookChanges:
    """Field errors first; unknown fields only when the known ones are valid. :raises FieldErrors | NonFieldError:"""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in FIELDS:
        if name not in data:
            if name in required:
                errors[name] = ["This field is required."]
            continue
        try:
            values[name] = _PARSERS[name](data[name])
        except _Invalid as exc:
            errors[name] = [exc.message]
    if errors:
        raise FieldErrors(errors)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        allowed = ", ".join(sorted(FIELDS))
        raise NonFieldError(f"Unexpected field(s): {', '.join(unknown)}. Allowed fields are: {allowed}")
    return WebhookChanges(**values)


def _present(changes: WebhookChanges) -> dict[str, Any]:
    return {k: v for k, v in vars(changes).items() if v is not parsing.MISSING}


def webhook_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.object_id,
        "url": endpoint.url,
        "triggers": endpoint.triggers,
        "state": endpoint.state,
        "paused_reason": endpoint.paused_reason,
        "failure_count": endpoint.failure_count,
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def _attempt_json(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "attempted_at": iso(attempt.attempted_at),
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response_body": attempt.response_body,
        "error": attempt.error,
    }


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.object_id,
        "webhook_id": delivery.endpoint.object_id,
        "calendar_id": delivery.payload.get("calendar_id"),
        "trigger": delivery.trigger,
        "idempotency_key": delivery.idempotency_key,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == DeliveryStatus.PENDING.value else None,
        "payload": delivery.payload,
        "attempts": [_attempt_json(a) for a in delivery.attempts],
        "created_at": iso(delivery.created_at),
        "updated_at": iso(delivery.updated_at),
    }


@bp.post("/webhooks")
def create_webhook() -> ResponseReturnValue:
    changes = parse_webhook(parsing.json_object(), required=("url",))
    endpoint, secret = service.create_endpoint(project=g.project, **_present(changes))
    return {**webhook_json(endpoint), "signing_secret": secret}, 201


@bp.get("/webhooks")
def list_webhooks() -> ResponseReturnValue:
    page = queries.list_endpoints(
        project=g.project,
        cursor=pagination.decode_cursor(request.args.get("cursor")),
        page_size=pagination.page_size(WEBHOOKS_PAGE_SIZE),
    )
    return pagination.page_json(page, webhook_json)


@bp.post("/webhooks/rotate_secret")
def rotate_webhook_secret() -> ResponseReturnValue:
    secret, previous_expire_at = service.rotate_secret(project=g.project)
    return {"signing_secret": secret, "previous_secrets_expire_at": iso(previous_expire_at)}


@bp.get("/webhooks/<webhook_id:object_id>")
def get_webhook(object_id: str) -> ResponseReturnValue:
    return webhook_json(queries.get_endpoint(project=g.project, object_id=object_id))


@bp.patch("/webhooks/<webhook_id:object_id>")
def patch_webhook(object_id: str) -> ResponseReturnValue:
    endpoint = queries.get_endpoint(project=g.project, object_id=object_id)
    changes = parse_webhook(parsing.json_object(), required=())
    return webhook_json(service.update_endpoint(endpoint=endpoint, **_present(changes)))


@bp.delete("/webhooks/<webhook_id:object_id>")
def delete_webhook(object_id: str) -> ResponseReturnValue:
    service.delete_endpoint(endpoint=queries.get_endpoint(project=g.project, object_id=object_id))
    return Response(b"", status=200, content_type="application/json")


@bp.get("/webhooks/<webhook_id:object_id>/deliveries")
def list_webhook_deliveries(object_id: str) -> ResponseReturnValue:
    endpoint = queries.get_endpoint(project=g.project, object_id=object_id)
    status = request.args.get("status")
    allowed = [s.value for s in DeliveryStatus]
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
    return pagination.page_json(page, delivery_json)


@bp.post("/webhooks/<webhook_id:object_id>/test")
@per_project("WEBHOOK_TEST_RATE_LIMIT")
def test_webhook(object_id: str) -> ResponseReturnValue:
    endpoint = queries.get_endpoint(project=g.project, object_id=object_id)
    return delivery_json(service.send_test(endpoint=endpoint))


@bp.post("/webhook_deliveries/<object_id>/redeliver")
@per_project("WEBHOOK_REDELIVER_RATE_LIMIT")
def redeliver_webhook_delivery(object_id: str) -> ResponseReturnValue:
    delivery = queries.get_delivery(project=g.project, object_id=object_id)
    return delivery_json(service.redeliver(delivery=delivery)), 202
