"""Entry point: the only module that builds an app at import (``gunicorn wsgi:app``, ``celery -A wsgi:celery_app``).

Under a command line (``flask …``, ``celery …``: both run inside a click context) the app gets the
migration commands; gunicorn's web workers do not need Alembic, and stay smaller without it.
"""

import click

from webapp import create_app

app = create_app(migrations=click.get_current_context(silent=True) is not None)
celery_app = app.extensions["celery"]
