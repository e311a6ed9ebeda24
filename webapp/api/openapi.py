"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of every endpoint (a test keeps it true)."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue

from webapp.api.blueprint import bp
from webapp.api.events import DATETIME_WITH_OFFSET, NAIVE_DATETIME
from webapp.i18n import SUPPORTED_LOCALES
from webapp.webhooks.ssrf import URL_PATTERN

_STRING_OR_NULL = {"type": ["string", "null"]}
_DATETIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_TRIGGERS = ["calendar.state_change", "calendar.events_update"]
_WEBHOOK_URL = {
    "type": "string",
    "maxLength": 2048,
    "pattern": URL_PATTERN,
    "description": "http(s), https in production; no user name or password; in production no private or "
    "loopback address unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict[str, Any]:
    """The cursor page envelope around *item*."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["next", "previous", "results"],
        "properties": {
            "next": _STRING_OR_NULL,
            "previous": _STRING_OR_NULL,
            "results": {"type": "array", "items": _ref(item)},
        },
    }


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: str, *, required: bool = True) -> dict[str, Any]:
    """A JSON body; an optional one may be left out (the service reads an empty body as ``{}``)."""
    return {"required": required, "content": {"application/json": {"schema": _ref(schema)}}}


def _any(*names: str) -> dict[str, Any]:
    return {"anyOf": [_ref(name) for name in names]}


# Strings the service trims and refuses when blank or holding a NUL character (the database cannot
# store one). Like Attendee (Django REST framework) it also takes a JSON number where a string is due.
_TEXT_PATTERN = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


def _text(max_length: int, **extra: Any) -> dict[str, Any]:
    return {"type": ["string", "number"], "pattern": _TEXT_PATTERN, "minLength": 1, "maxLength": max_length, **extra}


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

SCHEMAS: dict[str, Any] = {
    "Calendar": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "platform",
            "client_id",
            "platform_uuid",
            "state",
            "metadata",
            "deduplication_key",
            "connection_failure_data",
            "created_at",
            "updated_at",
            "last_successful_sync_at",
            "last_attempted_sync_at",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^cal_[A-Za-z0-9]{16}$"},
            "platform": {"enum": ["google", "microsoft"]},
            "client_id": {"type": "string"},
            "platform_uuid": _STRING_OR_NULL,
            "state": {"enum": ["connected", "disconnected"]},
            "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
            "deduplication_key": _STRING_OR_NULL,
            "connection_failure_data": {"type": ["object", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "last_successful_sync_at": _DATETIME_OR_NULL,
            "last_attempted_sync_at": _DATETIME_OR_NULL,
        },
    },
    "CalendarCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["platform", "client_id", "client_secret", "refresh_token"],
        "properties": {
            "platform": {"enum": ["google", "microsoft"]},
            "client_id": _text(255),
            "client_secret": _text(4096, writeOnly=True),
            "refresh_token": _text(4096, writeOnly=True),
            "platform_uuid": _text(1024),
            "metadata": _ref("Metadata"),
            "deduplication_key": _text(1024),
        },
    },
    "Metadata": {
        "type": "object",
        "description": "String values; at most 1000 characters as JSON",
        "minProperties": 1,
        "propertyNames": {"pattern": "^[^\\x00]*$"},
        "additionalProperties": {"type": "string", "pattern": "^[^\\x00]*$"},
    },
    "CalendarPatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "client_secret": _text(4096, writeOnly=True),
            "refresh_token": _text(4096, writeOnly=True),
            "metadata": _ref("Metadata"),
        },
    },
    "CalendarPage": _page("Calendar"),
    "CalendarEvent": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "calendar_id",
            "platform_uuid",
            "meeting_url",
            "start_time",
            "end_time",
            "is_deleted",
            "attendees",
            "ical_uid",
            "name",
            "raw",
            "bots",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^evt_[A-Za-z0-9]{16}$"},
            "calendar_id": {"type": "string"},
            "platform_uuid": {"type": "string"},
            "meeting_url": _STRING_OR_NULL,
            "start_time": {"type": "string", "format": "date-time"},
            "end_time": {"type": "string", "format": "date-time"},
            "is_deleted": {"type": "boolean"},
            "attendees": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"email": _STRING_OR_NULL, "name": _STRING_OR_NULL},
                },
            },
            "ical_uid": _STRING_OR_NULL,
            "name": _STRING_OR_NULL,
            "raw": {"type": "object"},
            "bots": {"type": "array", "maxItems": 0, "description": "Always empty: this service schedules no bots"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "CalendarEventPage": _page("CalendarEvent"),
    "Webhook": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "url", "triggers", "state", "paused_reason", "failure_count", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string", "pattern": "^wh_[A-Za-z0-9]{16}$"},
            "url": {"type": "string"},
            "triggers": {"type": "array", "items": {"enum": _TRIGGERS}},
            "state": {"enum": ["active", "paused"]},
            "paused_reason": _STRING_OR_NULL,
            "failure_count": {"type": "integer", "description": "Failed deliveries in a row"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "signing_secret": {
                "type": "string",
                "description": "Only in the response to POST /webhooks: base64 of the project's newest secret",
            },
        },
    },
    "WebhookCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": _WEBHOOK_URL,
            "triggers": {"type": "array", "minItems": 1, "items": {"enum": _TRIGGERS}},
            "state": {"enum": ["active", "paused"]},
        },
    },
    "WebhookPatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": _WEBHOOK_URL,
            "triggers": {"type": "array", "minItems": 1, "items": {"enum": _TRIGGERS}},
            "state": {"enum": ["active", "paused"], "description": "active resumes and clears the failure run"},
        },
    },
    "WebhookPage": _page("Webhook"),
    "WebhookSecret": {
        "type": "object",
        "additionalProperties": False,
        "required": ["signing_secret", "previous_secrets_expire_at"],
        "properties": {
            "signing_secret": {"type": "string", "description": "base64; shown once"},
            "previous_secrets_expire_at": {"type": "string", "format": "date-time"},
        },
    },
    "WebhookAttempt": {
        "type": "object",
        "additionalProperties": False,
        "required": ["attempted_at", "status_code", "latency_ms", "response_body", "error"],
        "properties": {
            "attempted_at": {"type": "string", "format": "date-time"},
            "status_code": {"type": ["integer", "null"]},
            "latency_ms": {"type": "integer"},
            "response_body": {"type": ["string", "null"], "maxLength": 500},
            "error": _STRING_OR_NULL,
        },
    },
    "WebhookDelivery": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "webhook_id",
            "calendar_id",
            "trigger",
            "idempotency_key",
            "status",
            "attempt_count",
            "next_attempt_at",
            "payload",
            "attempts",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^whd_[A-Za-z0-9]{16}$"},
            "webhook_id": {"type": "string"},
            "calendar_id": _STRING_OR_NULL,
            "trigger": {"enum": [*_TRIGGERS, "webhook.test"]},
            "idempotency_key": {"type": "string", "format": "uuid"},
            "status": {"enum": ["pending", "delivered", "failed"]},
            "attempt_count": {"type": "integer", "description": "Attempts in the current round"},
            "next_attempt_at": _DATETIME_OR_NULL,
            "payload": {"type": "object", "description": "The exact envelope sent (signed as canonical JSON)"},
            "attempts": {"type": "array", "items": _ref("WebhookAttempt")},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "WebhookDeliveryPage": _page("WebhookDelivery"),
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
                _query("state", {"enum": ["connected", "disconnected"]}, "Extension"),
                _query("platform", {"enum": ["google", "microsoft"]}, "Extension"),
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
                _query(
                    "ordering",
                    {
                        "enum": [
                            "-updated_at",
                            "updated_at",
                            "start_time",
                            "-start_time",
                            "end_time",
                            "-end_time",
                            "created_at",
                            "-created_at",
                        ]
                    },
                    "Default -updated_at",
                ),
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
                _query("status", {"enum": ["pending", "delivered", "failed"]}, "Exact"),
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
_LOCALE = {
    "enum": list(SUPPORTED_LOCALES),
    "description": "Language of the end user's pages (else the browser's Accept-Language, else English); "
    "echoed only when set",
}
SCHEMAS.update(
    {
        "ConnectSessionCreate": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "platform": {"enum": ["google", "microsoft"], "description": "Skip the provider choice"},
                "calendar_id": _text(64, description="Reconnect this calendar (of this project) in place"),
                "deduplication_key": _text(1024),
                "metadata": _ref("Metadata"),
                "redirect_url": _text(
                    2048,
                    format="uri",
                    description="Absolute http(s) URL on one of the project's allowed redirect origins",
                ),
                "locale": _LOCALE,
            },
        },
        "ConnectSessionCreated": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "url", "expires_at"],
            "properties": {
                "id": {"type": "string", "pattern": "^cs_[A-Za-z0-9]{16}$"},
                "url": {"type": "string", "description": "Open in the end user's browser; shown once"},
                "expires_at": {"type": "string", "format": "date-time"},
                "locale": _LOCALE,
            },
        },
        "ConnectSession": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "id",
                "status",
                "platform",
                "calendar_id",
                "deduplication_key",
                "metadata",
                "redirect_url",
                "expires_at",
                "created_at",
                "used_at",
                "error_code",
            ],
            "properties": {
                "id": {"type": "string", "pattern": "^cs_[A-Za-z0-9]{16}$"},
                "status": {"enum": ["pending", "completed", "failed", "expired"]},
                "platform": {"enum": ["google", "microsoft", None]},
                "calendar_id": _STRING_OR_NULL,
                "deduplication_key": _STRING_OR_NULL,
                "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
                "redirect_url": _STRING_OR_NULL,
                "expires_at": {"type": "string", "format": "date-time"},
                "created_at": {"type": "string", "format": "date-time"},
                "used_at": _DATETIME_OR_NULL,
                "error_code": {**_STRING_OR_NULL, "description": "Failure taxonomy code of the last failed attempt"},
                "locale": _LOCALE,
            },
        },
    }
)
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
