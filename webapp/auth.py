"""API authentication: ``Authorization: Token <key>`` (or ``Bearer``) resolves to ``g.project``."""

from __future__ import annotations

from flask import g, request
from werkzeug.exceptions import MethodNotAllowed

from webapp.errors import Unauthenticated
from webapp.models import ProjectRef
from webapp.projects.service import project_for_key

API_PREFIX = "/api/v1/"
# Endpoints under the API prefix that anyone may read.
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})


def authenticate_api_request() -> None:
    """Run before routing errors other than 404 surface, so auth precedes 405, parsing and throttling."""
    if not request.path.startswith(API_PREFIX):
        return
    routing_error = request.routing_exception
    if routing_error is not None and not isinstance(routing_error, MethodNotAllowed):
        return  # an unknown path is a plain 404
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    g.project = project_from_header(request.headers.get("Authorization"))


def project_from_header(header: str | None) -> ProjectRef:
    """:raises Unauthenticated: missing, malformed, unknown or revoked key."""
    if header is None or not header.strip():
        raise Unauthenticated("Missing Authorization header")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in ("token", "bearer"):
        raise Unauthenticated("Invalid Authorization header. Should have this format: Token <api_key>")
    project = project_for_key(parts[1])
    if project is None:
        raise Unauthenticated("Invalid or disabled API key")
    return project
