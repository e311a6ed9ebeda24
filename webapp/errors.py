"""The one error hierarchy. Services and parsers raise these; ``error_handlers`` renders them."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error the service raises on purpose."""

    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(AppError):
    """Rendered as ``{"error": message}`` with 404."""

    status = 404


class BadQuery(AppError):
    """A bad query parameter: ``{"error": message}`` with 400."""

    status = 400


class FrameworkError(AppError):
    """Protocol-level problems rendered as ``{"detail": message}`` (auth, media type, cursor...)."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class Unauthenticated(FrameworkError):
    """401 with ``WWW-Authenticate: Token``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 401, {"WWW-Authenticate": "Token"})


class InvalidCursor(FrameworkError):
    def __init__(self) -> None:
        super().__init__("Invalid cursor", 404)


class NonFieldError(AppError):
    """A whole-body problem: ``{"non_field_errors": [message]}``."""


class FieldErrors(AppError):
    """Per-field problems: ``{"<field>": [message, ...]}`` (an entry may be a structured object)."""

    def __init__(self, errors: dict[str, list[Any]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items()))
        self.errors = errors


class CalendarError(AppError):
    """Domain errors about calendars that a page may show to a person."""


class DuplicateDeduplicationKey(CalendarError, FieldErrors):
    def __init__(self) -> None:
        FieldErrors.__init__(
            self,
            {"deduplication_key": ["A calendar with this deduplication key already exists in this project."]},
        )
