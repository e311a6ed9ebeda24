"""The settings page's Branding form: the service's rules, errors beside the fields."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from markupsafe import escape

from tests.branding_rows import BAD, GOOD
from webapp.extensions import db
from webapp.models import Project

EMPTY = {
    "display_name": "",
    "logo_url": "",
    "accent_color": "",
    "support_url": "",
    "privacy_url": "",
    "terms_url": "",
}


def branding_url(project: Project) -> str:
    return f"/dashboard/projects/{project.object_id}/settings/branding"


def stored(project: Project, field: str) -> str | None:
    db.session.expire_all()
    row = db.session.get(Project, project.id)
    assert row is not None
    value: str | None = getattr(row, field)
    return value


def test_the_settings_page_has_the_branding_form(dash: FlaskClient, project: Project) -> None:
    body = dash.get(f"/dashboard/projects/{project.object_id}/settings").get_data(as_text=True)
    assert 'id="branding-title">Branding<' in body
    for field in EMPTY:
        assert f'name="{field}"' in body


@pytest.mark.parametrize(("field", "value", "expected"), GOOD)
def test_good_values_are_saved(
    dash: FlaskClient, project: Project, field: str, value: str, expected: str | None
) -> None:
    response = dash.post(branding_url(project), data={**EMPTY, field: value})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/settings#branding")
    assert stored(project, field) == expected
    page = dash.get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
    assert "The branding was saved." in page
    if expected:
        assert f'value="{escape(expected)}"' in page  # shown back in the form


@pytest.mark.parametrize(("field", "value", "message"), BAD)
def test_bad_values_are_refused_beside_their_field(
    dash: FlaskClient, project: Project, field: str, value: str, message: str
) -> None:
    response = dash.post(branding_url(project), data={**EMPTY, "display_name": "Kept?", field: value})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    field_id = "branding-" + field.replace("_", "-")
    errors = re.search(rf'<span class="field-errors" id="{field_id}-errors">([^<]*)</span>', body)
    assert errors is not None, body
    assert message in errors.group(1).replace("&#39;", "'"), errors.group(1)
    assert re.search(rf'<input [^>]*aria-invalid="true"[^>]*id="{field_id}"', body)
    assert stored(project, field) is None and stored(project, "display_name") is None  # nothing saved
