"""The dashboard's forms with fields (buttons are ``webapp.forms.ButtonForm``).

The validators check the shape of what a person typed; the services behind the views keep the
rules they share with the command line (an origin without a path, a webhook URL that may be
called), and their ``FieldErrors`` land on these forms' fields (``webapp.forms.service_errors_onto``).
Messages are the API's where the API has one.
"""

from __future__ import annotations

from typing import Any

from wtforms import HiddenField, PasswordField, StringField, URLField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from webapp.forms import BrowserForm
from webapp.models import OAuthApp

BLANK = "This field may not be blank."


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _too_long(limit: int) -> Length:
    return Length(max=limit, message=f"Ensure this field has no more than {limit} characters.")


class LoginForm(BrowserForm):
    email = StringField("Email", filters=[_strip], validators=[DataRequired(), _too_long(320)])
    password = PasswordField("Password", validators=[InputRequired()])
    next = HiddenField()  # the page asked for before the login (checked by the view before use)


class ApiKeyForm(BrowserForm):
    name = StringField("Name", filters=[_strip], validators=[Optional(), _too_long(255)])


class OAuthAppForm(BrowserForm):
    """One per platform on the settings page; ``tenant`` is shown and used for Microsoft only."""

    client_id = StringField("Client id", filters=[_strip], validators=[DataRequired(BLANK), _too_long(255)])
    client_secret = PasswordField("Client secret", validators=[DataRequired(BLANK)])
    tenant = StringField("Tenant", filters=[_strip], validators=[Optional(), _too_long(255)])

    @classmethod
    def of(cls, app: OAuthApp | None) -> OAuthAppForm:
        """An empty form showing the stored app's client id and tenant (never its secret)."""
        if app is None:
            return cls(formdata=None)
        return cls(formdata=None, client_id=app.client_id, tenant=app.tenant or "")


class OriginForm(BrowserForm):
    origin = URLField("Origin", filters=[_strip], validators=[DataRequired(BLANK), _too_long(255)])


class WebhookForm(BrowserForm):
    url = URLField("URL", filters=[_strip], validators=[DataRequired(BLANK), _too_long(2048)])


class BrandingForm(BrowserForm):
    """The end-user pages' branding; the rules (https logo, http(s) links, ``#rrggbb``) are the
    service's (``webapp.projects.branding``), shared with ``flask projects set-branding``."""

    display_name = StringField("Display name", filters=[_strip], validators=[Optional(), _too_long(100)])
    logo_url = URLField("Logo URL (https)", filters=[_strip], validators=[Optional(), _too_long(2048)])
    accent_color = StringField("Accent colour (#rrggbb)", filters=[_strip], validators=[Optional()])
    support_url = URLField("Support URL", filters=[_strip], validators=[Optional(), _too_long(2048)])
    privacy_url = URLField("Privacy policy URL", filters=[_strip], validators=[Optional(), _too_long(2048)])
    terms_url = URLField("Terms of service URL", filters=[_strip], validators=[Optional(), _too_long(2048)])

    @classmethod
    def of(cls, project: Any) -> BrandingForm:
        """An empty form showing the stored values."""
        from webapp.projects.branding import as_dict

        return cls(formdata=None, **{k: v or "" for k, v in as_dict(project).items()})
