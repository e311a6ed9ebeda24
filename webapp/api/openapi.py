"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of every endpoint (a test keeps it true)."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue

from webapp.api.blueprint import bp
from webapp.api.events import DATETIME_WITH_OFFSET, NAIVE_DATETIME
from webapp.api.objects import BODIES, COMPONENTS, OBJECTS, PAGED
from webapp.api.shapes import enum_of, page_schema, ref
from webapp.events.queries import ORDERINGS
from webapp.models import CalendarState, DeliveryStatus, Platform

_ref = ref


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: str, *, required: bool = True) -> dict[str, Any]:
    """A JSON body; an optional one may be left out (the service reads an empty body as ``{}``)."""
    return {"required": required, "content": {"application/json": {"schema": _ref(schema)}}}


def _any(*names: str) -> dict[str, Any]:
    return {"anyOf": [_ref(name) for name in names]}


# The error answers, by where they occur (the four shapes: see the schemas FieldErrors, Error, Detail).
_UNAUTHENTICATED = {"401": _json_response("Missing, malformed, unknown or revoked API key", _ref("Detail"))}
_NOT_FOUND = {"404": _json_response("No such object in this project", _ref("Error"))}
_BAD_QUERY = {"400": _json_response("A query parameter with a value that cannot be used", _ref("Error"))}
_BAD_CURSOR = {"404": _json_response("A cursor this service did not produce", _ref("Detail"))}
_BAD_BODY = {
    "400": _json_response(
        "Field errors, a whole-body error (non_field_errors) or malformed JSON (detail)",
        _any("FieldErrors", "Detail"),
    ),
    "413": _json_response("Body larger than 256 KiB", _ref("Detail")),
    "415": _json_response("Body not JSON", _ref("Detail")),
}


def _throttled(setting: str) -> dict[str, Any]:
    """The 429 of an operation limited per project by *setting* (``webapp.rate_limits``)."""
    return {
        "description": f"Throttled: the project made more of these requests than {setting} allows",
        "headers": {
            "Retry-After": {
                "description": "Seconds until the limit's window ends (also in the message)",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        "content": {"application/json": {"schema": _ref("Detail")}},
    }


# Reads and actions on one object; lists; bodies.
_ERRORS = {**_UNAUTHENTICATED, **_NOT_FOUND}
_LIST_ERRORS = {**_UNAUTHENTICATED, **_BAD_QUERY, **_BAD_CURSOR}
_BODY_ERRORS = {**_UNAUTHENTICATED, **_BAD_BODY}

# The objects and bodies come from their declarations (``objects.py``); the error shapes are the
# routes' own (``webapp.errors`` raises them, ``error_handlers`` renders them).
SCHEMAS: dict[str, Any] = {
    **{item.name: item.schema() for item in OBJECTS},
    **{f"{item.name}Page": page_schema(item) for item in PAGED},
    **{body.name: body.schema() for body in BODIES},
    **{component.name: component.definition for component in COMPONENTS},
    "FieldErrors": {
        "description": "Field errors ({field: [messages]}) or a whole-body one ({non_field_errors: [message]}); "
        "with ?validate=true a provider's refusal is a failure object under the field at fault",
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"type": "array", "minItems": 1, "items": {"type": ["string", "object"]}},
    },
    "Error": {
        "description": "An unknown object (404) or a bad query parameter (400)",
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Detail": {
        "description": "Authentication, malformed JSON, media type, size, cursor and throttling errors",
        "type": "object",
        "additionalProperties": False,
        "required": ["detail"],
        "properties": {"detail": {"type": "string"}},
    },
}

_CALENDAR_ID = {"name": "object_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJECT_ID = _CALENDAR_ID


# The filters' date-times (webapp.api.events declares the patterns): RFC 3339, or without an offset.
_ISO_8601 = {
    "anyOf": [
        {"type": "string", "format": "date-time", "pattern": DATETIME_WITH_OFFSET},
        {"type": "string", "pattern": NAIVE_DATETIME, "description": "UTC"},
    ],
    "examples": ["2025-01-13T10:30:00Z"],
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PATHS: dict[str, Any] = {
    "/calendars": {
        "post": {
            "operationId": "createCalendar",
            "summary": "Register a calendar with its OAuth credentials",
            "requestBody": _body("CalendarCreate"),
            "responses": {
                "201": _json_response("The created calendar", _ref("Calendar")),
                "429": _throttled("API_CREATE_RATE_LIMIT"),
                **_BODY_ERRORS,
            },
        },
        "get": {
            "operationId": "listCalendars",
            "summary": "List calendars, newest first, 25 per page by default",
            "parameters": [
                _query("cursor", {"type": "string"}, "Opaque cursor from next or previous"),
                _query("deduplication_key", {"type": "string"}, "Exact match"),
                _query("state", enum_of(CalendarState), "Extension"),
                _query("platform", enum_of(Platform), "Extension"),
                _query("page_size", {"type": "integer", "minimum": 1, "maximum": 100}, "Extension"),
            ],
            "responses": {"200": _json_response("A page of calendars", _ref("CalendarPage")), **_LIST_ERRORS},
        },
    },
    "/calendars/{object_id}": {
        "parameters": [_CALENDAR_ID],
        "get": {
            "operationId": "getCalendar",
            "responses": {"200": _json_response("The calendar", _ref("Calendar")), **_ERRORS},
        },
        "patch": {
            "operationId": "updateCalendar",
            "summary": "Replace credentials or metadata; queues a sync",
            "requestBody": _body("CalendarPatch", required=False),
            "responses": {"200": _json_response("The updated calendar", _ref("Calendar")), **_ERRORS, **_BAD_BODY},
        },
        "delete": {
            "operationId": "deleteCalendar",
            "responses": {"200": {"description": "Deleted; empty body"}, **_ERRORS},
        },
    },
    "/calendars/{object_id}/sync": {
        "parameters": [_CALENDAR_ID],
        "post": {
            "operationId": "syncCalendar",
            "summary": "Extension: queue a sync now",
            "responses": {"202": _json_response("The calendar; a sync is queued", _ref("Calendar")), **_ERRORS},
        },
    },
    "/calendar_events": {
        "get": {
            "operationId": "listCalendarEvents",
            "summary": "List synced events, 100 per page; deleted events stay listed with is_deleted",
            "parameters": [
                _query("cursor", {"type": "string"}, "Opaque cursor from next or previous"),
                _query("calendar_id", {"type": "string"}, "Exact; unknown gives an empty list"),
                _query("calendar_deduplication_key", {"type": "string"}, "Exact"),
                _query("updated_at_gte", _ISO_8601, "ISO 8601"),
                _query("updated_after", _ISO_8601, "Old name of updated_at_gte"),
                _query("event_id", {"type": "string"}, "Exact"),
                _query("start_time_gte", _ISO_8601, "ISO 8601"),
                _query("end_time_lte", _ISO_8601, "ISO 8601"),
                _query("ordering", enum_of(ORDERINGS), "Default -updated_at"),
                _query("is_deleted", {"type": "boolean"}, "Extension"),
                _query("page_size", {"type": "integer", "minimum": 1, "maximum": 100}, "Extension"),
            ],
            "responses": {"200": _json_response("A page of events", _ref("CalendarEventPage")), **_LIST_ERRORS},
        }
    },
    "/calendar_events/{object_id}": {
        "parameters": [{"name": "object_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {
            "operationId": "getCalendarEvent",
            "summary": "Extension: one event",
            "responses": {"200": _json_response("The event", _ref("CalendarEvent")), **_ERRORS},
        },
    },
    "/webhooks": {
        "post": {
            "operationId": "createWebhook",
            "summary": "Extension: subscribe a URL to triggers; returns the project's signing secret once",
            "requestBody": _body("WebhookCreate"),
            "responses": {"201": _json_response("The created webhook", _ref("Webhook")), **_BODY_ERRORS},
        },
        "get": {
            "operationId": "listWebhooks",
            "summary": "Extension: webhooks, newest first, 25 per page by default",
            "parameters": [
                _query("cursor", {"type": "string"}, "Opaque cursor from next or previous"),
                _query("page_size", {"type": "integer", "minimum": 1, "maximum": 100}, "Extension"),
            ],
            "responses": {"200": _json_response("A page of webhooks", _ref("WebhookPage")), **_LIST_ERRORS},
        },
    },
    "/webhooks/rotate_secret": {
        "post": {
            "operationId": "rotateWebhookSecret",
            "summary": "Extension: a new signing secret; the previous ones keep signing (X-Webhook-Signatures) "
            "for WEBHOOK_SECRET_ROTATION_HOURS",
            "responses": {
                "200": _json_response("The new secret, shown once", _ref("WebhookSecret")),
                **_UNAUTHENTICATED,
            },
        }
    },
    "/webhooks/{object_id}": {
        "parameters": [_OBJECT_ID],
        "get": {
            "operationId": "getWebhook",
            "responses": {"200": _json_response("The webhook", _ref("Webhook")), **_ERRORS},
        },
        "patch": {
            "operationId": "updateWebhook",
            "requestBody": _body("WebhookPatch", required=False),
            "responses": {"200": _json_response("The updated webhook", _ref("Webhook")), **_ERRORS, **_BAD_BODY},
        },
        "delete": {
            "operationId": "deleteWebhook",
            "responses": {"200": {"description": "Deleted with its deliveries; empty body"}, **_ERRORS},
        },
    },
    "/webhooks/{object_id}/deliveries": {
        "parameters": [_OBJECT_ID],
        "get": {
            "operationId": "listWebhookDeliveries",
            "summary": "Extension: deliveries of a webhook with their attempts, newest first",
            "parameters": [
                _query("cursor", {"type": "string"}, "Opaque cursor from next or previous"),
                _query("calendar_id", {"type": "string"}, "Exact; unknown gives an empty list"),
                _query("status", enum_of(DeliveryStatus), "Exact"),
                _query("page_size", {"type": "integer", "minimum": 1, "maximum": 100}, "Extension"),
            ],
            "responses": {
                "200": _json_response("A page of deliveries", _ref("WebhookDeliveryPage")),
                **_UNAUTHENTICATED,
                **_BAD_QUERY,
                "404": _json_response("Unknown webhook (error) or cursor (detail)", _any("Error", "Detail")),
            },
        },
    },
    "/webhooks/{object_id}/test": {
        "parameters": [_OBJECT_ID],
        "post": {
            "operationId": "testWebhook",
            "summary": "Extension: send a webhook.test event now (once, also to a paused webhook)",
            "responses": {
                "200": _json_response("The test delivery and its attempt", _ref("WebhookDelivery")),
                "429": _throttled("WEBHOOK_TEST_RATE_LIMIT"),
                **_ERRORS,
            },
        },
    },
    "/webhook_deliveries/{object_id}/redeliver": {
        "parameters": [_OBJECT_ID],
        "post": {
            "operationId": "redeliverWebhookDelivery",
            "summary": "Extension: send a delivery again (same body and idempotency key, new retry budget)",
            "responses": {
                "202": _json_response("The delivery, pending again", _ref("WebhookDelivery")),
                "429": _throttled("WEBHOOK_REDELIVER_RATE_LIMIT"),
                **_ERRORS,
            },
        },
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApiDocument",
            "security": [],
            "responses": {"200": {"description": "This document", "content": {"application/json": {}}}},
        }
    },
}

# Connect sessions (the browser onboarding flow).
PATHS.update(
    {
        "/connect_sessions": {
            "post": {
                "operationId": "createConnectSession",
                "summary": "Extension: a one-hour link where an end user connects (or reconnects) a calendar",
                "requestBody": _body("ConnectSessionCreate", required=False),
                "responses": {
                    "201": _json_response("The session and its URL", _ref("ConnectSessionCreated")),
                    "429": _throttled("CONNECT_SESSION_RATE_LIMIT"),
                    **_BODY_ERRORS,
                },
            }
        },
        "/connect_sessions/{object_id}": {
            "parameters": [_OBJECT_ID],
            "get": {
                "operationId": "getConnectSession",
                "summary": "Extension: a connect session's status and, once completed, its calendar",
                "responses": {"200": _json_response("The session", _ref("ConnectSession")), **_ERRORS},
            },
        },
    }
)


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Calendar connection service",
        "version": "1",
        "description": "Attendee-compatible calendars API, plus extensions.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"token": []}],
    "components": {
        "securitySchemes": {
            "token": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <api_key>` (or `Bearer <api_key>`)",
            }
        },
        "schemas": SCHEMAS,
    },
    "paths": PATHS,
}


@bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return DOCUMENT
