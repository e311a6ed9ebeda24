"""The one flat API blueprint (Flask-WTF exempts exactly this blueprint from CSRF)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
