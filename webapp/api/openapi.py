"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of every endpoint (a test keeps it true)."""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue

from webapp.api.blueprint import bp

_STRING_OR_NULL = {"type": ["string", "null"]}
_DATETIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


_ERRORS = {
    "400": _json_response("Validation error", _ref("ValidationError")),
    "401": _json_response("Missing or invalid API key", _ref("Detail")),
    "404": _json_response("Not found", _ref("NotFound")),
}

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
            "client_id": {"type": "string", "maxLength": 255},
            "client_secret": {"type": "string", "maxLength": 4096, "writeOnly": True},
            "refresh_token": {"type": "string", "maxLength": 4096, "writeOnly": True},
            "platform_uuid": {"type": "string", "maxLength": 1024},
            "metadata": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
            "deduplication_key": {"type": "string", "maxLength": 1024},
        },
    },
    "CalendarPatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "client_secret": {"type": "string", "maxLength": 4096, "writeOnly": True},
            "refresh_token": {"type": "string", "maxLength": 4096, "writeOnly": True},
            "metadata": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
        },
    },
    "CalendarPage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["next", "previous", "results"],
        "properties": {
            "next": _STRING_OR_NULL,
            "previous": _STRING_OR_NULL,
            "results": {"type": "array", "items": _ref("Calendar")},
        },
    },
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
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "CalendarEventPage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["next", "previous", "results"],
        "properties": {
            "next": _STRING_OR_NULL,
            "previous": _STRING_OR_NULL,
            "results": {"type": "array", "items": _ref("CalendarEvent")},
        },
    },
    "ValidationError": {
        "description": "Field errors ({field: [messages]}) or {non_field_errors: [message]}",
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    "NotFound": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Detail": {
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": {"type": "string"}},
    },
}

_CALENDAR_ID = {"name": "object_id", "in": "path", "required": True, "schema": {"type": "string"}}


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
                "429": _json_response("Throttled", _ref("Detail")),
                **_ERRORS,
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
            "responses": {"200": _json_response("A page of calendars", _ref("CalendarPage")), **_ERRORS},
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
            "requestBody": _body("CalendarPatch"),
            "responses": {"200": _json_response("The updated calendar", _ref("Calendar")), **_ERRORS},
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
                _query("updated_at_gte", {"type": "string", "format": "date-time"}, "ISO 8601"),
                _query("updated_after", {"type": "string", "format": "date-time"}, "Old name of updated_at_gte"),
                _query("event_id", {"type": "string"}, "Exact"),
                _query("start_time_gte", {"type": "string", "format": "date-time"}, "ISO 8601"),
                _query("end_time_lte", {"type": "string", "format": "date-time"}, "ISO 8601"),
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
            "responses": {"200": _json_response("A page of events", _ref("CalendarEventPage")), **_ERRORS},
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
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApiDocument",
            "security": [],
            "responses": {"200": {"description": "This document", "content": {"application/json": {}}}},
        }
    },
}

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
