"""The application factory: the composition root of the service."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from config import PROJECT_ROOT, Config, load_settings, push_base_url_problem

if TYPE_CHECKING:
    from celery import Celery


class Service(Flask):
    """Flask, with its per-request check for ``async def`` hooks and views made once per function.

    Flask asks ``ensure_sync`` about each hook and the view on every request (``inspect`` calls,
    fifteen times for an API request); the answer for a function never changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_functions: dict[Any, Any] = {}

    def ensure_sync(self, func: Any) -> Any:
        try:
            return self._sync_functions[func]
        except KeyError:
            sync = self._sync_functions[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for a request that has no cookie.

    API requests never carry one; Flask would build the signer (its key derivation included) for
    each of them only to find nothing to read. A request without the cookie gets the empty session
    Flask would give it, and one with it is read by Flask as before.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def create_app(config: type[Config] | None = None, *, migrations: bool = True, **overrides: Any) -> Flask:
    """Build the app: defaults, then the environment (unless testing), then explicit overrides.

    ``migrations=False`` leaves Alembic out (about 10 MB per web worker that never migrates).
    """
    instance_path = Path(os.environ.get("INSTANCE_PATH") or PROJECT_ROOT / "instance")
    app = Service(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(config or Config)
    if config is None:
        app.config.update(load_settings(os.environ, instance_path))
    app.config.update(overrides)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = CookieSessions()
    app.extensions["celery_tasks"] = register_tasks  # used when the app's Celery is built (webapp.runtime.celery_app)

    from webapp import api, crypto, error_handlers, guards, i18n, observability, rate_limits
    from webapp.cli import register_cli
    from webapp.db import autocommit, pool
    from webapp.db.migrations import init_migrations
    from webapp.events import documents  # noqa: F401  (its flush hook keeps calendar_event.api_json current)
    from webapp.extensions import csrf, db

    observability.init_app(app)  # first: logging, and the request id before any other hook runs
    crypto.init_app(app)
    pool.size_for_threads(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            pool.ping_idle_connections(engine)
            pool.track_writes(engine)
    app.teardown_request(autocommit.release)
    app.teardown_appcontext(autocommit.release)
    app.teardown_appcontext(pool.end_session)
    # pool.end_session ends the session (surviving a dead connection): Flask-SQLAlchemy's own
    # teardown would only call the same session.remove() a second time on every request.
    app.teardown_appcontext_funcs.remove(db._teardown_session)
    if migrations:
        init_migrations(app)
    i18n.init_app(app)  # before the other request hooks: an error page they raise is in the right language
    app.before_request(guards.refuse_nul_bytes)
    csrf.init_app(app)
    from webapp.api import calendars, connect_sessions, events, openapi, webhooks  # noqa: F401  (routes on api.bp)

    api.init_app(app)
    rate_limits.init_app(app)  # after api.init_app: authentication runs first
    error_handlers.register(app)
    register_cli(app)
    from webapp.onboarding import security, views

    app.register_blueprint(views.bp)
    from webapp.push.views import bp as push_bp

    app.register_blueprint(push_bp)
    csrf.exempt(push_bp)  # providers authenticate by channel secret, not by cookie
    from webapp.observability.views import bp as observability_bp

    csrf.exempt(observability_bp)  # /healthz, /readyz, /metrics: GETs for machines
    from webapp import dashboard

    dashboard.init_app(app)
    app.after_request(security.add_security_headers)
    trust_proxies(app)
    _say_why_push_is_off(app)
    return app


def register_tasks(celery: Celery) -> None:
    """Every Celery task and periodic job of the service, registered when the app's Celery is built.

    Imported here, not by ``webapp.runtime.celery_app``: the task modules import that module to queue work.
    Web workers build Celery only if they queue something, so most never load these modules.
    """
    from webapp.push import tasks as push_tasks
    from webapp.retention import tasks as retention_tasks
    from webapp.sync import tasks as sync_tasks
    from webapp.webhooks import tasks as webhook_tasks

    schedule: dict[str, Any] = {}
    for module in (sync_tasks, webhook_tasks, push_tasks, retention_tasks):
        module.register(celery)
        schedule.update(module.BEAT_SCHEDULE)
    celery.conf.beat_schedule = schedule


_push_reported = False


def _say_why_push_is_off(app: Flask) -> None:
    """Once per process: a plain-http ``PUBLIC_BASE_URL`` leaves push off (production refuses it at start)."""
    global _push_reported
    base_url = str(app.config.get("PUBLIC_BASE_URL") or "")
    problem = push_base_url_problem(base_url) if base_url else None
    if problem and not _push_reported:
        _push_reported = True
        logging.getLogger("webapp.push").warning("Push notifications stay off: %s. Calendars are polled.", problem)


def trust_proxies(app: Flask) -> None:
    """Believe ``TRUSTED_PROXY_COUNT`` proxies' X-Forwarded-For/-Proto/-Host/-Port headers.

    ``request.remote_addr`` (the login throttle's client) and the WSGI ``REMOTE_ADDR`` (gunicorn's
    access log, which reads the same environ) then name the real client, not the proxy; with 0 a
    client cannot spoof its address with a header.
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    count = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count
        )
