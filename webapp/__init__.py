"""The application factory: the composition root of the service."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from config import PROJECT_ROOT, Config, load_settings


def create_app(config: type[Config] | None = None, *, migrations: bool = True, **overrides: Any) -> Flask:
    """Build the app: defaults, then the environment (unless testing), then explicit overrides.

    ``migrations=False`` leaves Alembic out (about 10 MB per web worker that never migrates).
    """
    instance_path = Path(os.environ.get("INSTANCE_PATH") or PROJECT_ROOT / "instance")
    app = Flask(
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from webapp import api, crypto, error_handlers, pool, rate_limits, reads
    from webapp.cli import register_cli
    from webapp.extensions import csrf, db
    from webapp.schema import init_migrations

    crypto.init_app(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            pool.ping_idle_connections(engine)
    app.teardown_request(reads.release)
    app.teardown_appcontext(reads.release)
    if migrations:
        init_migrations(app)
    csrf.init_app(app)
    api.init_app(app)
    rate_limits.init_app(app)  # after api.init_app: authentication runs first
    error_handlers.register(app)
    register_cli(app)
    from webapp.onboarding import security, views

    app.register_blueprint(views.bp)
    from webapp.push.views import bp as push_bp

    app.register_blueprint(push_bp)
    csrf.exempt(push_bp)  # providers authenticate by channel secret, not by cookie
    from webapp import dashboard

    dashboard.init_app(app)
    app.after_request(security.add_security_headers)
    return app
