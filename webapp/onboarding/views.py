"""The end user's pages under /connect/: choose a provider, consent, land on the status page."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from webapp.connect import urls
from webapp.extensions import utcnow
from webapp.forms import ButtonForm
from webapp.i18n import forget_the_page
from webapp.models import CalendarState, Platform
from webapp.onboarding import flow, presenters
from webapp.projects.branding import ACCENT, Branding
from webapp.timestamps import relative_time

bp = Blueprint("onboarding", __name__, url_prefix=urls.CONNECT_PREFIX)
bp.teardown_request(forget_the_page)


@bp.context_processor
def branding_context() -> dict[str, Branding | None]:
    """The project's branding for ``end_user.html`` (None before a session is known)."""
    return {"branding": g.get(flow.BRANDING_KEY)}


@bp.get("/accent/<color>.css")
def accent_stylesheet(color: str) -> ResponseReturnValue:
    """The accent colour as CSS custom properties, from the URL's six hex digits and nothing else.

    A same-origin stylesheet keeps the page's CSP (no inline style); the URL names only a colour,
    so it reveals nothing and is cached for a day."""
    if not ACCENT.fullmatch(f"#{color}"):
        abort(404)
    accent = f"#{color.lower()}"
    text = Branding("", None, accent, None, None, None).accent_text
    body = f":root {{ --brand: {accent}; --brand-text: {text}; }}\n"
    return Response(body, mimetype="text/css", headers={"Cache-Control": "public, max-age=86400"})


@bp.get("/callback/<platform>")
def callback(platform: str) -> ResponseReturnValue:
    if platform not in set(Platform):
        raise flow.ConnectFailure(flow.PLATFORM_UNAVAILABLE, status=404)
    token = flow.finish(platform, request.args.get("state"))
    return redirect(url_for(".done", token=token), 303)


@bp.get("/<token>")
def choose(token: str) -> ResponseReturnValue:
    if not urls.on_canonical_host():
        return redirect(urls.connect_url(token), 302)
    choice = flow.choice(token)
    if choice.connect.platform is not None:
        return flow.start(token, choice.connect.platform)
    return render_template(
        "onboarding/choose.html",
        form=ButtonForm(),  # one per provider: starts the consent there
        token=token,
        project_name=Branding.of(choice.connect.project).name,
        platforms=[(p, presenters.PLATFORM_LABELS[p]) for p in choice.platforms],
        expires_at=choice.connect.expires_at,
    )


@bp.post("/<token>/start/<platform>")
def start(token: str, platform: str) -> ResponseReturnValue:
    if not urls.on_canonical_host():
        return redirect(urls.connect_url(token), 303)
    return flow.start(token, platform)


@bp.get("/<token>/done")
def done(token: str) -> ResponseReturnValue:
    connect = flow.done(token)
    calendar = connect.result_calendar
    now = utcnow()
    last_sync = calendar.last_successful_sync_at if calendar is not None else None
    state = calendar.state if calendar is not None else CalendarState.DISCONNECTED
    continue_url = None
    if connect.redirect_url and calendar is not None:
        continue_url = presenters.with_query(
            connect.redirect_url, {"calendar_id": calendar.object_id, "state": state, "session_id": connect.object_id}
        )
    return render_template(
        "onboarding/status.html",
        form=ButtonForm(),  # Reconnect
        token=token,
        project_name=Branding.of(connect.project).name,
        calendar=calendar,
        account=connect.account_email,
        platform_label=presenters.PLATFORM_LABELS.get(calendar.platform if calendar else "", ""),
        state=state,
        last_sync_relative=relative_time(last_sync, now) if last_sync else None,
        last_sync_exact=presenters.exact_time(last_sync) if last_sync else None,
        last_sync_iso=last_sync.isoformat() if last_sync else None,
        continue_url=continue_url,
        popup_result=presenters.popup_result(
            connect, status=connect.status, state=state, calendar_id=calendar.object_id if calendar else None
        ),
    )


@bp.post("/<token>/reconnect")
def reconnect(token: str) -> ResponseReturnValue:
    new_token = flow.reconnect(token)
    if new_token is None:
        return redirect(url_for(".done", token=token), 303)
    return redirect(urls.connect_url(new_token), 303)


@bp.errorhandler(flow.ConnectFailure)
def connect_failure(exc: flow.ConnectFailure) -> ResponseReturnValue:
    text = presenters.failure_text(exc.code, exc.platform)
    return (
        render_template(
            "onboarding/failure.html",
            title=text.title,
            text=text.text,
            code=exc.code,
            retry_url=url_for(".choose", token=exc.retry_token) if exc.retry_token else None,
            done_url=url_for(".done", token=exc.done_token) if exc.done_token else None,
            popup_result=presenters.popup_result(flow.current_session(), status="failed", code=exc.code),
        ),
        exc.status,
    )
