"""Template helpers: times with their exact value on hover, failure texts from the taxonomy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from webapp.providers.failures import TAXONOMY
from webapp.timestamps import iso, relative_time

ACTORS = {"end_user": "End user", "integrator": "Integrator (you)", "none": "Nobody (retried automatically)"}
PLATFORM_LABELS = {"google": "Google", "microsoft": "Microsoft"}


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
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso(moment), exact(moment), relative_time(moment))


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
        what_happened=_sentence(entry.summary.replace("{provider}", provider)),
        who_must_act=ACTORS.get(actor, actor),
        action_required_by=actor,
        what_to_do=_sentence(entry.what_to_do.replace("{provider}", provider)),
        retryable=entry.retryable,
    )


def _sentence(text: str) -> str:
    """A sentence starts with a capital ("The provider …" when the platform is unknown)."""
    text = text.replace("The project's the provider", "The project's provider")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class FailureGroup:
    """A failures-page group: one code, its count, and its explanation for each platform it occurs on."""

    code: str
    count: int
    explanations: list[FailureExplanation]

    @property
    def first(self) -> FailureExplanation:
        return self.explanations[0]

    @property
    def end_user_must_reconnect(self) -> bool:
        """Reconnect links help only when the end user must act; other causes are fixed elsewhere."""
        return self.first.action_required_by == "end_user"


def failure_group(code: str, count: int, platforms: list[str]) -> FailureGroup:
    return FailureGroup(code, count, [explain(code, platform) for platform in platforms or [""]])


def failure_detail(error: str | None, explanation: FailureExplanation) -> str | None:
    """What ``connection_failure_data.error`` adds to the explanation shown beside it (None: nothing).

    The service's own message is the taxonomy's summary and advice (plus a detail in parentheses),
    which the page already shows as "What happened" and "What to do"."""
    if not error:
        return None
    for shown in (f"{explanation.what_happened} {explanation.what_to_do}", explanation.what_happened):
        if error.startswith(shown):
            rest = error[len(shown) :].strip()
            return rest or None
    return error
