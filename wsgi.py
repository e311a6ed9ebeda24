"""WSGI entry point: the only module that builds an app at import (``gunicorn wsgi:app``, ``flask``)."""

from webapp import create_app

app = create_app()
