"""The JSON API: one flat blueprint, authenticated by API key, exempt from CSRF."""

from __future__ import annotations

from flask import Flask

from webapp.api.blueprint import CONVERTERS, bp
from webapp.auth import authenticate_api_request
from webapp.extensions import csrf


def init_app(app: Flask) -> None:
    """Register the blueprint; its view modules were imported by the composition root.

    Not imported by this package: ``webapp.api.objects`` (the declarations, which the event
    document uses too) must be importable without every view, or the two would import each other.
    """
    # App-level, so it also runs for a wrong method (405) and before the views' rate limits.
    app.before_request(authenticate_api_request)
    app.url_map.converters.update(CONVERTERS)  # before the blueprint's rules are added
    app.register_blueprint(bp)
    csrf.exempt(bp)
