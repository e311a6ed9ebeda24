"""What every browser form shares: Flask-WTF forms, CSRF by ``CSRFProtect``, service errors on fields.

``CSRFProtect`` (``webapp.extensions.csrf``) checks the token of every POST before any view runs;
a form's own CSRF check then passes without a second verification. A page renders each form's
token with the ``hidden_fields`` macro (``templates/_forms.html``) and its field errors from
``form.errors`` next to the fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import request
from flask_wtf import FlaskForm

from webapp.errors import FieldErrors


class BrowserForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    """A form a browser posts: its data is the request's form fields, never a JSON body.

    Flask-WTF would read a JSON body as form data, where a number, a list or a deeply nested value
    breaks WTForms (a 500) and text no page can encode would be echoed back into the page.
    """

    class Meta(FlaskForm.Meta):  # type: ignore[misc]
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            if formdata is not None and request.is_json and not request.form:
                return None  # treated as a form posted empty
            return super().wrap_formdata(form, formdata)


class ButtonForm(BrowserForm):
    """A button that posts nothing but its CSRF token: an action on what its URL names (sync, revoke,
    delete, a bulk action, show or rotate a secret, log out, start or restart a consent)."""


@contextmanager
def service_errors_onto(form: FlaskForm) -> Iterator[None]:
    """Run a service call; its ``FieldErrors`` become errors of the form's fields of the same names
    (or of the whole form for a field the form does not have), shown where the form is rendered."""
    try:
        yield
    except FieldErrors as exc:
        for name, messages in exc.errors.items():
            target = form._fields.get(name)
            errors = target.errors if target is not None else form.form_errors
            if isinstance(errors, tuple):  # a field that was never validated holds an empty tuple
                errors = target.errors = []
            errors.extend(str(message) for message in messages)
