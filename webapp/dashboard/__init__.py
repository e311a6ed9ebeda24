"""The admin dashboard: connection health, failures by cause, and the project's settings."""

from __future__ import annotations

from flask import Flask

from webapp.dashboard import accounts, presenters
from webapp.extensions import login_manager
from webapp.models import AdminUser


def _load_admin(object_id: str) -> AdminUser | None:
    admin = accounts.admin_by_object_id(object_id)
    return admin if admin is not None and admin.is_active else None


def init_app(app: Flask) -> None:
    """Register the blueprint, the login manager and the template helpers."""
    from webapp.dashboard import views

    login_manager.init_app(app)
    login_manager.user_loader(_load_admin)
    login_manager.login_view = "dashboard.login"
    login_manager.session_protection = "strong"
    app.register_blueprint(views.bp)
    app.add_template_filter(presenters.time_tag, "dashboard_time")
