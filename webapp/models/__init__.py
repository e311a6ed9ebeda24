"""Every model and enum, one module per aggregate."""

from webapp.models.admin import AdminUser, LoginThrottle, ProjectMembership
from webapp.models.calendar import Calendar, CalendarState, Platform
from webapp.models.connect import ConnectSession, ConnectStatus
from webapp.models.event import CalendarEvent, CalendarStateChange, SyncAttempt
from webapp.models.heartbeat import Heartbeat, HeartbeatKind
from webapp.models.oauth_app import ConnectRedirectOrigin, OAuthApp
from webapp.models.project import ApiKey, Project, ProjectRef, ProjectScope
from webapp.models.push import PushChannel, PushChannelStop
from webapp.models.scheduler import ServiceLease
from webapp.models.webhook import (
    TEST_TRIGGER,
    DeliveryStatus,
    EndpointState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
    WebhookTrigger,
)

__all__ = [
    "AdminUser",
    "LoginThrottle",
    "ProjectMembership",
    "ApiKey",
    "Calendar",
    "CalendarEvent",
    "CalendarState",
    "CalendarStateChange",
    "Heartbeat",
    "HeartbeatKind",
    "ConnectRedirectOrigin",
    "ConnectSession",
    "ConnectStatus",
    "OAuthApp",
    "Platform",
    "Project",
    "ProjectRef",
    "ProjectScope",
    "PushChannel",
    "PushChannelStop",
    "ServiceLease",
    "SyncAttempt",
    "TEST_TRIGGER",
    "DeliveryStatus",
    "EndpointState",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookSecret",
    "WebhookTrigger",
]
