"""Dashboard pages under /dashboard/: thin views over ``queries`` (reads) and services (actions)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from webapp.calendars import service as calendars
from webapp.connect import apps, urls
from webapp.dashboard import accounts, presenters, queries, service
from webapp.dashboard.forms import ApiKeyForm, BrandingForm, LoginForm, OAuthAppForm, OriginForm, WebhookForm
from webapp.db.keyset import encode_cursor
from webapp.errors import NotFound
from webapp.extensions import utcnow
from webapp.forms import ButtonForm, service_errors_onto
from webapp.models import AdminUser, CalendarState, Platform, Project
from webapp.observability.dashboard import banner_context, project_backlogs
from webapp.projects import branding
from webapp.projects import service as projects
from webapp.webhooks import service as webhooks

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
bp.context_processor(banner_context)  # the stale worker/scheduler banner on every page

PUBLIC_ENDPOINTS = frozenset({"dashboard.login"})


@bp.before_request
def require_login() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return redirect(url_for("dashboard.login", next=request.full_path if request.method == "GET" else None))


@bp.context_processor
def button_form() -> dict[str, ButtonForm]:
    """The form of every button of the pages (``post_button``); their views have nothing to validate."""
    return {"button": ButtonForm(formdata=None)}


@bp.after_request
def no_store(response: Response) -> Response:
    """Pages show keys and links meant to be seen once: keep them out of caches and history."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _admin() -> AdminUser:
    user = current_user._get_current_object()
    if not isinstance(user, AdminUser):  # pragma: no cover - require_login runs first
        raise NotFound("Not found")
    return user


def _project(project_id: str) -> Project:
    return queries.project_for(_admin(), project_id)


def _stale_hours() -> int:
    return int(current_app.config.get("DASHBOARD_STALE_HOURS") or 24)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/dashboard/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.index")


# --- session --------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("dashboard.index"))
        form.next.data = request.args.get("next", "")
        return render_template("dashboard/login.html", form=form)
    if not form.validate():
        return render_template("dashboard/login.html", form=form), 400
    try:
        admin = accounts.authenticate(
            email=form.email.data, password=form.password.data, client=request.remote_addr or "unknown"
        )
    except (accounts.LoginFailed, accounts.LoginThrottled) as exc:
        return render_template("dashboard/login.html", form=form, error=exc.message), exc.status
    login_user(admin)
    return redirect(_safe_next(form.next.data))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("dashboard.login"))


# --- pages ----------------------------------------------------------------------------------------


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("dashboard/index.html", projects=queries.projects_of(_admin()))


@bp.get("/projects/<project_id>/")
def overview(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    summary = queries.overview(project, now=utcnow(), stale_hours=_stale_hours())
    return render_template(
        "dashboard/overview.html",
        project=project,
        summary=summary,
        stale_hours=_stale_hours(),
        explain=presenters.explain,
        testing_mode=_has_testing_mode_failures(project),
        backlogs=project_backlogs(project, utcnow()),
    )


def _has_testing_mode_failures(project: Project) -> bool:
    return any(code == "token_expired_testing_mode" for code, _ in queries.failure_groups(project))


@bp.get("/projects/<project_id>/calendars")
def list_calendars(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    args = request.args
    state = CalendarState(args["state"]) if args.get("state") in set(CalendarState) else None
    platform = Platform(args["platform"]) if args.get("platform") in set(Platform) else None
    sort = args.get("sort") if args.get("sort") in queries.SORTS else "-created"
    filters = queries.CalendarFilters(
        state=state,
        platform=platform,
        stale=args.get("stale") == "1",
        q=(args.get("q") or "").strip() or None,
        sort=sort or "-created",
    )
    page = queries.list_calendars(
        project, filters, cursor=queries.decode_cursor(args.get("cursor")), now=utcnow(), stale_hours=_stale_hours()
    )
    kept: dict[str, Any] = {k: v for k, v in args.items() if k != "cursor" and v}
    links = {
        name: url_for(".list_calendars", project_id=project_id, **kept, cursor=encode_cursor(cursor))
        for name, cursor in (("next", page.next), ("previous", page.previous))
        if cursor is not None
    }
    return render_template(
        "dashboard/calendars.html",
        project=project,
        page=page,
        filters=filters,
        links=links,
        args=kept,
        platforms=list(Platform),
        labels=presenters.PLATFORM_LABELS,
    )


def _render_calendar(project: Project, calendar_id: str, **extra: object) -> ResponseReturnValue:
    calendar = queries.calendar_of(project, calendar_id)
    data = calendar.connection_failure_data or None
    failure = presenters.explain(data.get("code"), calendar.platform, data) if data else None
    return render_template(
        "dashboard/calendar.html",
        project=project,
        calendar=calendar,
        history=queries.history(calendar),
        failure=failure,
        failure_detail=presenters.failure_detail(data.get("error"), failure) if data and failure else None,
        failure_data=data,
        explain=presenters.explain,
        labels=presenters.PLATFORM_LABELS,
        **extra,
    )


@bp.get("/projects/<project_id>/calendars/<calendar_id>")
def show_calendar(project_id: str, calendar_id: str) -> ResponseReturnValue:
    return _render_calendar(_project(project_id), calendar_id)


@bp.post("/projects/<project_id>/calendars/<calendar_id>/sync")
def sync_calendar(project_id: str, calendar_id: str) -> ResponseReturnValue:
    calendar = queries.calendar_of(_project(project_id), calendar_id)
    calendars.request_sync(calendar=calendar)
    flash("A sync was requested; it runs in the background.")
    return redirect(url_for(".show_calendar", project_id=project_id, calendar_id=calendar_id), 303)


@bp.post("/projects/<project_id>/calendars/<calendar_id>/reconnect-link")
def create_reconnect_link(project_id: str, calendar_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    link = service.reconnect_link(project=project, calendar=queries.calendar_of(project, calendar_id))
    return _render_calendar(project, calendar_id, reconnect=link)


@bp.get("/projects/<project_id>/calendars/<calendar_id>/delete")
def confirm_delete_calendar(project_id: str, calendar_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    calendar = queries.calendar_of(project, calendar_id)
    return render_template("dashboard/confirm_delete.html", project=project, calendar=calendar)


@bp.post("/projects/<project_id>/calendars/<calendar_id>/delete")
def delete_calendar(project_id: str, calendar_id: str) -> ResponseReturnValue:
    calendar = queries.calendar_of(_project(project_id), calendar_id)
    calendars.delete_calendar(calendar=calendar)
    flash(f"Calendar {calendar_id} was deleted with its events.")
    return redirect(url_for(".list_calendars", project_id=project_id), 303)


@bp.get("/projects/<project_id>/failures")
def list_failures(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    platforms = queries.failure_platforms(project)
    groups = [
        presenters.failure_group(code, count, platforms.get(code, []))
        for code, count in queries.failure_groups(project)
    ]
    return render_template("dashboard/failures.html", project=project, groups=groups)


def _known_code(project: Project, code: str) -> str:
    if code not in {c for c, _ in queries.failure_groups(project)}:
        raise NotFound("No disconnected calendars with this failure code")
    return code


@bp.post("/projects/<project_id>/failures/<code>/sync")
def sync_failure_group(project_id: str, code: str) -> ResponseReturnValue:
    project = _project(project_id)
    count = service.sync_failure_group(project=project, code=_known_code(project, code))
    flash(f"A sync was requested for {count} calendar{'s' if count != 1 else ''}.")
    return redirect(url_for(".list_failures", project_id=project_id), 303)


@bp.post("/projects/<project_id>/failures/<code>/reconnect-links.csv")
def export_reconnect_links(project_id: str, code: str) -> ResponseReturnValue:
    project = _project(project_id)
    body = service.reconnect_links_csv(project=project, code=_known_code(project, code))
    filename = f"reconnect-links-{code}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- settings -------------------------------------------------------------------------------------


def _render_settings(
    project: Project, status: int = 200, *, forms: dict[str, Any] | None = None, **extra: object
) -> ResponseReturnValue:
    """The settings page; *forms* replaces the page's empty forms by submitted ones (with their errors)."""
    oauth_apps = queries.oauth_apps(project)
    page_forms: dict[str, Any] = {
        "api_key": ApiKeyForm(formdata=None),
        "origin": OriginForm(formdata=None),
        "webhook": WebhookForm(formdata=None),
        "branding": BrandingForm.of(project),
        **{f"oauth_{p}": OAuthAppForm.of(oauth_apps.get(p)) for p in Platform},
        **(forms or {}),
    }
    page = render_template(
        "dashboard/settings.html",
        project=project,
        forms=page_forms,
        api_keys=queries.api_keys(project),
        oauth_apps=oauth_apps,
        platforms=list(Platform),
        labels=presenters.PLATFORM_LABELS,
        redirect_uris={p: urls.callback_url(p) for p in Platform},
        origins=queries.redirect_origins(project),
        endpoints=queries.webhook_endpoints(project),
        **extra,
    )
    return page, status


def _settings_redirect(project_id: str, anchor: str) -> ResponseReturnValue:
    return redirect(url_for(".settings", project_id=project_id) + f"#{anchor}", 303)


@bp.get("/projects/<project_id>/settings")
def settings(project_id: str) -> ResponseReturnValue:
    return _render_settings(_project(project_id))


@bp.post("/projects/<project_id>/settings/api-keys")
def create_api_key(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    form = ApiKeyForm()
    if not form.validate():
        return _render_settings(project, 400, forms={"api_key": form})
    key, plaintext = projects.create_api_key(project=project, name=form.name.data or None)
    return _render_settings(project, new_api_key=plaintext, new_api_key_id=key.object_id)


@bp.post("/projects/<project_id>/settings/api-keys/<key_id>/revoke")
def revoke_api_key(project_id: str, key_id: str) -> ResponseReturnValue:
    key = queries.api_key_of(_project(project_id), key_id)
    projects.revoke_api_key(object_id=key.object_id)
    flash(f"API key {key_id} was revoked.")
    return _settings_redirect(project_id, "api-keys")


@bp.post("/projects/<project_id>/settings/oauth-apps/<platform>")
def set_oauth_app(project_id: str, platform: str) -> ResponseReturnValue:
    project = _project(project_id)
    if platform not in set(Platform):
        raise NotFound("Unknown platform")
    form = OAuthAppForm()
    if form.validate():
        with service_errors_onto(form):
            apps.set_oauth_app(
                project=project,
                platform=Platform(platform),
                client_id=form.client_id.data,
                client_secret=form.client_secret.data,
                tenant=(form.tenant.data or None) if platform == Platform.MICROSOFT else None,
            )
            flash(f"The {presenters.PLATFORM_LABELS[platform]} OAuth app was saved.")
            return _settings_redirect(project_id, "oauth-apps")
    return _render_settings(project, 400, forms={f"oauth_{platform}": form})


@bp.post("/projects/<project_id>/settings/branding")
def set_branding(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    form = BrandingForm()
    if form.validate():
        with service_errors_onto(form):
            branding.set_branding(project=project, changes={name: form[name].data for name in branding.FIELDS})
            flash("The branding was saved.")
            return _settings_redirect(project_id, "branding")
    return _render_settings(project, 400, forms={"branding": form})


@bp.post("/projects/<project_id>/settings/origins")
def add_origin(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    form = OriginForm()
    if form.validate():
        with service_errors_onto(form):
            apps.allow_redirect_origin(project=project, origin=form.origin.data)
            flash("The origin was allowed.")
            return _settings_redirect(project_id, "origins")
    return _render_settings(project, 400, forms={"origin": form})


@bp.post("/projects/<project_id>/settings/origins/<int(max=2147483647):origin_id>/delete")
def remove_origin(project_id: str, origin_id: int) -> ResponseReturnValue:
    service.remove_redirect_origin(origin=queries.redirect_origin_of(_project(project_id), origin_id))
    flash("The origin was removed.")
    return _settings_redirect(project_id, "origins")


@bp.post("/projects/<project_id>/settings/webhooks")
def create_webhook(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    form = WebhookForm()
    if form.validate():
        with service_errors_onto(form):
            webhooks.create_endpoint(project=project, url=form.url.data)
            flash("The webhook endpoint was added.")
            return _settings_redirect(project_id, "webhooks")
    return _render_settings(project, 400, forms={"webhook": form})


@bp.post("/projects/<project_id>/settings/webhooks/<endpoint_id>/delete")
def delete_webhook(project_id: str, endpoint_id: str) -> ResponseReturnValue:
    webhooks.delete_endpoint(endpoint=queries.webhook_endpoint_of(_project(project_id), endpoint_id))
    flash("The webhook endpoint was deleted.")
    return _settings_redirect(project_id, "webhooks")


@bp.post("/projects/<project_id>/settings/webhook-secret")
def show_webhook_secret(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    return _render_settings(project, signing_secret=webhooks.signing_secret(project=project))


@bp.post("/projects/<project_id>/settings/webhook-secret/rotate")
def rotate_webhook_secret(project_id: str) -> ResponseReturnValue:
    project = _project(project_id)
    secret, previous_until = webhooks.rotate_secret(project=project)
    return _render_settings(project, signing_secret=secret, previous_secret_until=previous_until)
