"""Every answer the API tests receive is checked against the OpenAPI document (``tests/openapi_responses.py``)."""

from __future__ import annotations

import pytest

from tests.openapi_responses import openapi_checked

__all__ = ["openapi_checked"]


@pytest.fixture(autouse=True)
def _every_response_matches_the_document(openapi_checked: list[str]) -> None:
    """Autouse: the contract tests prove the document true for each answer they provoke."""
