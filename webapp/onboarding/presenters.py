"""What the onboarding pages show: failure texts for people, relative times, the Continue URL.

Texts are English msgids (marked with ``N_``) translated when shown, in the request's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask_babel import format_datetime, gettext

from webapp.connect import apps
from webapp.i18n import N_
from webapp.models import ConnectSession

PLATFORM_LABELS = {"google": "Google", "microsoft": "Microsoft"}


@dataclass(frozen=True)
class FailureText:
    title: str
    text: str


_TEXTS: dict[str, FailureText] = {
    "access_denied": FailureText(
        N_("Access was not granted"),
        N_(
            "You chose not to allow access on the %(provider)s page, so nothing was connected. You "
            "can try again and choose Allow."
        ),
    ),
    "scope_insufficient": FailureText(
        N_("Calendar access was not granted"),
        N_(
            "The calendar permission was not ticked on the %(provider)s page, so nothing was "
            "connected. Try again and keep calendar access selected."
        ),
    ),
    "credentials_missing": FailureText(
        N_("Lasting access was not granted"),
        N_(
            "%(provider)s did not grant the lasting access needed to keep your calendar in sync, so "
            "nothing was connected. Please try again."
        ),
    ),
    "code_redemption_failed": FailureText(
        N_("This sign-in was already used"),
        N_(
            "The answer from %(provider)s had already been used (for example after going back or "
            "clicking twice), so nothing was connected. Please start again."
        ),
    ),
    "provider_unavailable": FailureText(
        N_("%(provider)s is not available right now"),
        N_("%(provider)s did not answer as expected. Nothing was connected. Please try again in a few minutes."),
    ),
    "network_error": FailureText(
        N_("%(provider)s could not be reached"),
        N_("The service could not reach %(provider)s. Nothing was connected. Please try again in a few minutes."),
    ),
    "rate_limited": FailureText(
        N_("%(provider)s is busy"),
        N_("%(provider)s asked us to slow down. Please try again in a minute."),
    ),
    "state_mismatch": FailureText(
        N_("Your sign-in could not be verified"),
        N_(
            "Your browser did not bring back the cookie that started this sign-in (cookies blocked, a "
            "different browser, or a different address for this site). Nothing was connected. Open "
            "the link from the app again, in this browser, and allow cookies for this site."
        ),
    ),
    "session_expired": FailureText(
        N_("This link has expired"),
        N_("Connection links are valid for a limited time. Go back to the app to get a new link."),
    ),
    "session_used": FailureText(
        N_("This link was already used"),
        N_("This calendar connection is already complete."),
    ),
    "session_unknown": FailureText(
        N_("This link is not valid"),
        N_("Check that the whole link was copied, or go back to the app to get a new one."),
    ),
    "platform_unavailable": FailureText(
        N_("This calendar provider is not available"),
        N_("Go back and choose another provider."),
    ),
    "client_misconfigured": FailureText(
        N_("This app's calendar connection is not set up correctly"),
        N_(
            "The %(provider)s sign-in for this app is misconfigured. You did nothing wrong: please "
            "tell the app's support team. Nothing was connected."
        ),
    ),
    "client_secret_invalid": FailureText(
        N_("This app's calendar connection is not set up correctly"),
        N_(
            "%(provider)s rejected this app's credentials. You did nothing wrong: please tell the "
            "app's support team. Nothing was connected."
        ),
    ),
    "client_deleted": FailureText(
        N_("This app's calendar connection is not set up correctly"),
        N_("This app's %(provider)s registration no longer exists. Please tell the app's support team."),
    ),
    "admin_consent_required": FailureText(
        N_("Your administrator must approve this app"),
        N_(
            "Your organization only lets administrators approve apps like this one. Ask your "
            "%(provider)s administrator to grant consent, then try again."
        ),
    ),
    "consent_required": FailureText(
        N_("Your administrator must approve this app"),
        N_("Consent for calendar access is missing. Ask your %(provider)s administrator, then try again."),
    ),
    "admin_policy_blocked": FailureText(
        N_("Your organization blocks this app"),
        N_("A policy of your organization blocks access for this app. Ask your %(provider)s administrator."),
    ),
    "mfa_required": FailureText(
        N_("Additional sign-in is required"),
        N_("%(provider)s requires multi-factor sign-in. Please try again."),
    ),
    "account_mismatch": FailureText(
        N_("A different account was chosen"),
        N_(
            "This calendar is connected with another %(provider)s account. Sign in with that account "
            "to reconnect it; nothing was changed."
        ),
    ),
}
_DEFAULT = FailureText(
    N_("The calendar was not connected"),
    N_("Something went wrong while connecting your calendar, and nothing was stored. Please try again."),
)


def failure_text(code: str, platform: str | None) -> FailureText:
    """The page's title and text for *code*, in the language of the request."""
    entry = _TEXTS.get(code, _DEFAULT)
    provider = PLATFORM_LABELS.get(platform or "") or gettext("the provider")
    title = gettext(entry.title, provider=provider)
    return FailureText(title[:1].upper() + title[1:], gettext(entry.text, provider=provider))


def exact_time(moment: datetime) -> str:
    """The date and time in the request's language, in UTC (the page does not know the reader's zone)."""
    return f"{format_datetime(moment, 'medium')} UTC"


def popup_result(connect: ConnectSession | None, **fields: str | None) -> dict[str, str] | None:
    """The data attributes of the result page's popup script (``static/js/connect-result.js``): the
    outcome *fields*, and the only origin it may be posted to, the session's redirect origin while
    that is one of the project's allowed origins. None (no script) when there is no such origin."""
    if connect is None or not connect.redirect_url or not apps.redirect_allowed(connect.project, connect.redirect_url):
        return None
    origin = apps.origin_of(connect.redirect_url)
    if origin is None:
        return None
    data = {name.replace("_", "-"): value for name, value in fields.items() if value is not None}
    return {"target-origin": origin, **data}


def with_query(url: str, params: dict[str, str]) -> str:
    """*url* with *params* added to (or replacing keys of) its query string."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
