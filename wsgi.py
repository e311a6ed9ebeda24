"""Entry point: the only module that builds an app at import (``gunicorn wsgi:app``, ``celery -A wsgi:celery_app``)."""

from webapp import create_app

app = create_app()
celery_app = app.extensions["celery"]
