"""Every API object and request body, declared once (``shapes`` is the layer they are declared with).

From these declarations come the Python serializers (``CALENDAR.serialize(calendar)``), the calendar
document the database renders for reads (``CALENDAR.document()``), the request parsers
(``CALENDAR_CREATE.parse(body)``) and the schemas of ``GET /api/v1/openapi.json`` (``openapi.py``
adds only what belongs to routes: paths, parameters, security and error answers). Key order is the
contract's, and so is every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp.api.shapes import (
    DATETIME,
    STRING,
    STRING_OR_NULL,
    AbsoluteUrl,
    ApiObject,
    Body,
    Choice,
    Invalid,
    Metadata,
    MultipleChoice,
    Rule,
    Text,
    computed,
    enum_of,
    given,
    json_value,
    object_id,
    ref,
    timestamp,
    value,
)
from webapp.connect import sessions
from webapp.i18n import Locale
from webapp.models import (
    TEST_TRIGGER,
    CalendarState,
    ConnectSession,
    ConnectStatus,
    DeliveryStatus,
    EndpointState,
    Platform,
    WebhookDelivery,
    WebhookTrigger,
)
from webapp.timestamps import iso
from webapp.webhooks import ssrf

STRING_MAP_OR_NULL = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}

# --- Calendars ---------------------------------------------------------------------------------------

CALENDAR = ApiObject(
    "Calendar",
    # Never a ciphertext, sync state or bookkeeping column.
    [
        object_id("cal_"),
        value("platform", enum_of(Platform)),
        value("client_id", STRING),
        value("platform_uuid", STRING_OR_NULL),
        value("state", enum_of(CalendarState)),
        json_value("metadata", STRING_MAP_OR_NULL, attr="meta", column="metadata"),
        value("deduplication_key", STRING_OR_NULL),
        json_value("connection_failure_data", {"type": ["object", "null"]}),
        timestamp("created_at"),
        timestamp("updated_at"),
        timestamp("last_successful_sync_at", nullable=True),
        timestamp("last_attempted_sync_at", nullable=True),
    ],
    table="calendar",
)

SECRET_LENGTH = 4096
METADATA = Metadata()
CALENDAR_CREATE = Body(
    "CalendarCreate",
    {
        "platform": Choice(Platform),
        "client_id": Text(255),
        "client_secret": Text(SECRET_LENGTH, writeOnly=True),
        "refresh_token": Text(SECRET_LENGTH, writeOnly=True),
        "platform_uuid": Text(1024),
        "metadata": METADATA,
        "deduplication_key": Text(1024),
    },
    required=("platform", "client_id", "client_secret", "refresh_token"),
)
CALENDAR_PATCH = Body(
    "CalendarPatch",
    {
        "client_secret": Text(SECRET_LENGTH, writeOnly=True),
        "refresh_token": Text(SECRET_LENGTH, writeOnly=True),
        "metadata": METADATA,
    },
)

# --- Calendar events ---------------------------------------------------------------------------------

CALENDAR_EVENT = ApiObject(
    "CalendarEvent",
    # Stored with each row when it is written (``api_json``), so lists send it as it is.
    [
        object_id("evt_"),
        given("calendar_id", STRING),  # the calendar's public id, which the event row does not hold
        value("platform_uuid", STRING),
        value("meeting_url", STRING_OR_NULL),
        timestamp("start_time"),
        timestamp("end_time"),
        value("is_deleted", {"type": "boolean"}),
        json_value(
            "attendees",
            {
                "type": "array",
                "items": {"type": "object", "properties": {"email": STRING_OR_NULL, "name": STRING_OR_NULL}},
            },
        ),
        value("ical_uid", STRING_OR_NULL),
        value("name", STRING_OR_NULL),
        json_value("raw", {"type": "object"}),
        # Attendee clients read it; this service schedules no bots.
        computed(
            "bots",
            {"type": "array", "maxItems": 0, "description": "Always empty: this service schedules no bots"},
            lambda _: [],
        ),
        timestamp("created_at"),
        timestamp("updated_at"),
    ],
)

# --- Webhooks ----------------------------------------------------------------------------------------

TRIGGERS = list(WebhookTrigger)

WEBHOOK = ApiObject(
    "Webhook",
    [
        object_id("wh_"),
        value("url", STRING),
        json_value("triggers", {"type": "array", "items": enum_of(TRIGGERS)}),
        value("state", enum_of(EndpointState)),
        value("paused_reason", STRING_OR_NULL),
        value("failure_count", {"type": "integer", "description": "Failed deliveries in a row"}),
        timestamp("created_at"),
        timestamp("updated_at"),
        given(
            "signing_secret",
            {
                "type": "string",
                "description": "Only in the response to POST /webhooks: base64 of the project's newest secret",
            },
            required=False,
        ),
    ],
)

WEBHOOK_SECRET = ApiObject(
    "WebhookSecret",
    [
        given("signing_secret", {"type": "string", "description": "base64; shown once"}),
        given("previous_secrets_expire_at", DATETIME),
    ],
)

WEBHOOK_ATTEMPT = ApiObject(
    "WebhookAttempt",
    [
        timestamp("attempted_at"),
        value("status_code", {"type": ["integer", "null"]}),
        value("latency_ms", {"type": "integer"}),
        value("response_body", {"type": ["string", "null"], "maxLength": 500}),
        value("error", STRING_OR_NULL),
    ],
)


def _next_attempt_at(delivery: WebhookDelivery) -> str | None:
    return iso(delivery.next_attempt_at) if delivery.status == DeliveryStatus.PENDING else None


WEBHOOK_DELIVERY = ApiObject(
    "WebhookDelivery",
    [
        object_id("whd_"),
        computed("webhook_id", STRING, lambda delivery: delivery.endpoint.object_id),
        computed("calendar_id", STRING_OR_NULL, lambda delivery: delivery.payload.get("calendar_id")),
        value("trigger", enum_of([*TRIGGERS, TEST_TRIGGER])),
        value("idempotency_key", {"type": "string", "format": "uuid"}),
        value("status", enum_of(DeliveryStatus)),
        value("attempt_count", {"type": "integer", "description": "Attempts in the current round"}),
        computed("next_attempt_at", {"type": ["string", "null"], "format": "date-time"}, _next_attempt_at),
        json_value("payload", {"type": "object", "description": "The exact envelope sent (signed as canonical JSON)"}),
        computed(
            "attempts",
            {"type": "array", "items": ref(WEBHOOK_ATTEMPT.name)},
            lambda delivery: [WEBHOOK_ATTEMPT.serialize(attempt) for attempt in delivery.attempts],
        ),
        timestamp("created_at"),
        timestamp("updated_at"),
    ],
)


class WebhookUrl(Rule):
    """A webhook's URL: checked whole (not trimmed) against ``ssrf.URL_PATTERN``; no number taken."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self.schema = {
            "type": "string",
            "maxLength": max_length,
            "pattern": ssrf.URL_PATTERN,
            "description": "http(s), https in production; no user name or password; in production no private or "
            "loopback address unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES",
        }

    def parse(self, value: Any) -> str:
        if value is None:
            raise Invalid("This field may not be null.")
        if not isinstance(value, str):
            raise Invalid("Not a valid string.")
        if not value.strip():
            raise Invalid("This field may not be blank.")
        if "\x00" in value:
            raise Invalid("Null characters are not allowed.")
        if len(value) > self.max_length:
            raise Invalid(f"Ensure this field has no more than {self.max_length} characters.")
        try:
            ssrf.check_url_shape(value, require_https=False)
        except ssrf.RefusedDestination as exc:
            raise Invalid(str(exc)) from None
        return value


class _State(Choice):
    def parse(self, value: Any) -> str:
        return str(super().parse(value))


_WEBHOOK_FIELDS: dict[str, Rule] = {
    "url": WebhookUrl(2048),
    "triggers": MultipleChoice(WebhookTrigger),
    "state": _State(EndpointState, description="active resumes and clears the failure run"),
}
WEBHOOK_CREATE = Body("WebhookCreate", _WEBHOOK_FIELDS, required=("url",))
WEBHOOK_PATCH = Body("WebhookPatch", _WEBHOOK_FIELDS)

# --- Connect sessions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedSession:
    """What ``POST /connect_sessions`` shows: the session and its URL (whose token is not stored)."""

    object_id: str
    url: str
    expires_at: datetime


CONNECT_SESSION_CREATED = ApiObject(
    "ConnectSessionCreated",
    [
        object_id("cs_"),
        value("url", {"type": "string", "description": "Open in the end user's browser; shown once"}),
        timestamp("expires_at"),
    ],
)


def _session_calendar_id(connect: ConnectSession) -> str | None:
    """The calendar the session produced, else the one it reconnects."""
    calendar = connect.result_calendar or connect.calendar
    return calendar.object_id if calendar is not None else None


CONNECT_SESSION = ApiObject(
    "ConnectSession",
    [
        object_id("cs_"),
        computed("status", enum_of(ConnectStatus), sessions.effective_status),
        computed(
            "platform", enum_of(Platform, nullable=True), lambda connect: connect.platform or connect.attempt_platform
        ),
        computed("calendar_id", STRING_OR_NULL, _session_calendar_id),
        value("deduplication_key", STRING_OR_NULL),
        json_value("metadata", STRING_MAP_OR_NULL, attr="meta", column="metadata"),
        value("redirect_url", STRING_OR_NULL),
        timestamp("expires_at"),
        timestamp("created_at"),
        timestamp("used_at", nullable=True),
        value("error_code", {**STRING_OR_NULL, "description": "Failure taxonomy code of the last failed attempt"}),
        value("locale", enum_of(Locale, nullable=True, description="Language of the end-user pages, if set")),
    ],
)

CONNECT_SESSION_CREATE = Body(
    "ConnectSessionCreate",
    {
        "platform": Choice(Platform, description="Skip the provider choice"),
        "calendar_id": Text(64, description="Reconnect this calendar (of this project) in place"),
        "deduplication_key": Text(1024),
        "metadata": METADATA,
        "redirect_url": AbsoluteUrl(
            2048, description="Absolute http(s) URL on one of the project's allowed redirect origins"
        ),
        "locale": Choice(
            Locale,
            description="Language of the end-user pages; else the browser's Accept-Language, else English",
        ),
    },
)

# What the OpenAPI document describes, in its order.
OBJECTS = (
    CALENDAR,
    CALENDAR_EVENT,
    WEBHOOK,
    WEBHOOK_SECRET,
    WEBHOOK_ATTEMPT,
    WEBHOOK_DELIVERY,
    CONNECT_SESSION_CREATED,
    CONNECT_SESSION,
)
# Schemas the bodies refer to.
COMPONENTS = (METADATA,)
BODIES = (CALENDAR_CREATE, CALENDAR_PATCH, WEBHOOK_CREATE, WEBHOOK_PATCH, CONNECT_SESSION_CREATE)
PAGED = (CALENDAR, CALENDAR_EVENT, WEBHOOK, WEBHOOK_DELIVERY)
