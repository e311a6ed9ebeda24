"""The one flat API blueprint (``webapp.csrf`` exempts exactly this blueprint, by name)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
