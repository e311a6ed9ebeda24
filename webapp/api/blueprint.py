"""The one flat API blueprint (``CSRFProtect`` exempts exactly this blueprint)."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.routing import BaseConverter

from webapp.errors import NotFound
from webapp.models.ids import is_object_id

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The id in each collection's paths: its prefix, and the 404 message of an id that does not exist.
PATH_IDS = {
    "calendars": ("cal_", "Calendar not found"),
    "calendar_events": ("evt_", "Calendar event not found"),
    "connect_sessions": ("cs_", "Connect session not found"),
    "webhooks": ("wh_", "Webhook not found"),
    "webhook_deliveries": ("whd_", "Webhook delivery not found"),
}


class WebhookIdConverter(BaseConverter):
    """A path segment that may be a webhook id: anything but the sibling action ``rotate_secret``.

    Without it the ``/webhooks/<id>`` rule also matches ``/webhooks/rotate_secret``, whose ``OPTIONS``
    and ``405`` answers then advertised GET, PATCH and DELETE.
    """

    regex = r"(?!rotate_secret$)[^/]+"
    part_isolating = True


CONVERTERS = {"webhook_id": WebhookIdConverter}


@bp.before_request
def refuse_impossible_ids() -> None:
    """An id this service cannot have made (wrong shape, NUL bytes, ...) is a 404 before any query.

    Runs after authentication (an app-level hook), so an anonymous caller still gets its 401.
    """
    object_id = (request.view_args or {}).get("object_id")
    if object_id is None or request.url_rule is None:
        return
    collection = request.url_rule.rule.removeprefix(bp.url_prefix or "").split("/")[1]
    prefix, message = PATH_IDS[collection]
    if not is_object_id(object_id, prefix):
        raise NotFound(message)
