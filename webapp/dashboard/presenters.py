"""Template helpers: times with their exact value on hover, failure texts from the taxonomy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from webapp.providers.failures import TAXONOMY
from webapp.timestamps import iso

ACTORS = {"end_user": "End user", "integrator": "Integrator (you)", "none": "Nobody (retried automatically)"}
PLATFORM_LABELS = {"google": "Google", "microsoft": "Microsoft"}


def relative(moment: datetime, now: datetime | None = None) -> str:
    """``just now``, ``5 minutes ago``, ``in 3 hours``."""
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"  # pragma: no cover


def exact(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_tag(moment: datetime | str | None, empty: str = "never") -> Markup:
    """``<time datetime=… title=…>3 hours ago</time>``, or *empty* for no time."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return Markup(escape(moment))
    if moment is None:
        return Markup('<span class="muted">{}</span>').format(empty)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso(moment), exact(moment), relative(moment))


@dataclass(frozen=True)
class FailureExplanation:
    code: str
    what_happened: str
    who_must_act: str
    action_required_by: str
    what_to_do: str
    retryable: bool


def explain(code: str | None, platform: str | None = None, data: dict[str, Any] | None = None) -> FailureExplanation:
    """The taxonomy's texts for *code* (``unknown_error`` for an unknown one)."""
    code = code or "unknown_error"
    entry = TAXONOMY.get(code) or TAXONOMY["unknown_error"]
    provider = PLATFORM_LABELS.get(platform or "", "the provider")
    actor = str((data or {}).get("action_required_by") or entry.action_required_by)
    return FailureExplanation(
        code=code,
        what_happened=entry.summary.replace("{provider}", provider),
        who_must_act=ACTORS.get(actor, actor),
        action_required_by=actor,
        what_to_do=entry.what_to_do.replace("{provider}", provider),
        retryable=entry.retryable,
    )
