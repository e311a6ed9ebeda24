"""Entry point: the only module that builds an app at import (``gunicorn wsgi:app``, ``celery -A wsgi:celery_app``).

Under a command line (``flask …``, ``celery …``: both run inside a click context) the app gets the
migration commands; gunicorn's web workers do not need Alembic, and stay smaller without it.
"""

from typing import Any

import click

from webapp import create_app
from webapp.runtime.celery_app import celery_for

app = create_app(migrations=click.get_current_context(silent=True) is not None)


def __getattr__(name: str) -> Any:
    """``celery_app`` is built when asked for (by ``celery -A wsgi:celery_app``), not by web workers."""
    if name == "celery_app":
        return celery_for(app)
    raise AttributeError(name)
