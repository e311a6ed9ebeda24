"""What the onboarding pages show: failure texts for people, relative times, the Continue URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PLATFORM_LABELS = {"google": "Google", "microsoft": "Microsoft"}


@dataclass(frozen=True)
class FailureText:
    title: str
    text: str


_TEXTS: dict[str, FailureText] = {
    "access_denied": FailureText(
        "Access was not granted",
        "You chose not to allow access on the {provider} page, so nothing was connected. "
        "You can try again and choose Allow.",
    ),
    "scope_insufficient": FailureText(
        "Calendar access was not granted",
        "The calendar permission was not ticked on the {provider} page, so nothing was connected. "
        "Try again and keep calendar access selected.",
    ),
    "credentials_missing": FailureText(
        "Lasting access was not granted",
        "{provider} did not grant the lasting access needed to keep your calendar in sync, so nothing "
        "was connected. Please try again.",
    ),
    "code_redemption_failed": FailureText(
        "This sign-in was already used",
        "The answer from {provider} had already been used (for example after going back or clicking "
        "twice), so nothing was connected. Please start again.",
    ),
    "provider_unavailable": FailureText(
        "{provider} is not available right now",
        "{provider} did not answer as expected. Nothing was connected. Please try again in a few minutes.",
    ),
    "network_error": FailureText(
        "{provider} could not be reached",
        "The service could not reach {provider}. Nothing was connected. Please try again in a few minutes.",
    ),
    "rate_limited": FailureText(
        "{provider} is busy", "{provider} asked us to slow down. Please try again in a minute."
    ),
    "state_mismatch": FailureText(
        "Your sign-in could not be verified",
        "Your browser did not bring back the cookie that started this sign-in (cookies blocked, a "
        "different browser, or a different address for this site). Nothing was connected. Open the link "
        "from the app again, in this browser, and allow cookies for this site.",
    ),
    "session_expired": FailureText(
        "This link has expired",
        "Connection links are valid for a limited time. Go back to the app to get a new link.",
    ),
    "session_used": FailureText("This link was already used", "This calendar connection is already complete."),
    "session_unknown": FailureText(
        "This link is not valid",
        "Check that the whole link was copied, or go back to the app to get a new one.",
    ),
    "platform_unavailable": FailureText(
        "This calendar provider is not available", "Go back and choose another provider."
    ),
    "client_misconfigured": FailureText(
        "This app's calendar connection is not set up correctly",
        "The {provider} sign-in for this app is misconfigured. You did nothing wrong: please tell the "
        "app's support team. Nothing was connected.",
    ),
    "client_secret_invalid": FailureText(
        "This app's calendar connection is not set up correctly",
        "{provider} rejected this app's credentials. You did nothing wrong: please tell the app's "
        "support team. Nothing was connected.",
    ),
    "client_deleted": FailureText(
        "This app's calendar connection is not set up correctly",
        "This app's {provider} registration no longer exists. Please tell the app's support team.",
    ),
    "admin_consent_required": FailureText(
        "Your administrator must approve this app",
        "Your organization only lets administrators approve apps like this one. Ask your {provider} "
        "administrator to grant consent, then try again.",
    ),
    "consent_required": FailureText(
        "Your administrator must approve this app",
        "Consent for calendar access is missing. Ask your {provider} administrator, then try again.",
    ),
    "admin_policy_blocked": FailureText(
        "Your organization blocks this app",
        "A policy of your organization blocks access for this app. Ask your {provider} administrator.",
    ),
    "mfa_required": FailureText(
        "Additional sign-in is required", "{provider} requires multi-factor sign-in. Please try again."
    ),
    "account_mismatch": FailureText(
        "A different account was chosen",
        "This calendar is connected with another {provider} account. Sign in with that account to "
        "reconnect it; nothing was changed.",
    ),
}
_DEFAULT = FailureText(
    "The calendar was not connected",
    "Something went wrong while connecting your calendar, and nothing was stored. Please try again.",
)


def failure_text(code: str, platform: str | None) -> FailureText:
    entry = _TEXTS.get(code, _DEFAULT)
    provider = PLATFORM_LABELS.get(platform or "", "the provider")
    title = entry.title.format(provider=provider)
    return FailureText(title[:1].upper() + title[1:], entry.text.format(provider=provider))


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    """``just now``, ``5 minutes ago``, ``3 hours ago``, ``2 days ago``."""
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def exact_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def with_query(url: str, params: dict[str, str]) -> str:
    """*url* with *params* added to (or replacing keys of) its query string."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
