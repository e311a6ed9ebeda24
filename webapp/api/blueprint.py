"""The one flat API blueprint (``CSRFProtect`` exempts exactly this blueprint)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
