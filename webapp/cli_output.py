"""What every command prints: one JSON object on one line, or an error on standard error with exit code 1.

Field errors keep their fields (``{"email": ["Enter a valid email address."]}``, the API's
shape); any other error is ``{"error": "<message>"}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from webapp.errors import AppError, FieldErrors


def emit(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, separators=(", ", ": ")))


def fail(exc: AppError) -> NoReturn:
    payload: dict[str, Any] = exc.errors if isinstance(exc, FieldErrors) else {"error": exc.message}
    click.echo(json.dumps(payload, separators=(", ", ": ")), err=True)
    sys.exit(1)
