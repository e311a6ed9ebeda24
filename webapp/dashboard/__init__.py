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
    # Flask-Login's after_request hook sets or clears the remember-me cookie that login_user and
    # logout_user asked for. They run only in the dashboard's views, so the hook runs there only:
    # app-wide it cost every API request a hook call and a look into the session (which also added
    # "Vary: Cookie" to answers that never read a cookie).
    remember = login_manager._update_remember_cookie
    app.after_request_funcs[None].remove(remember)
    app.after_request_funcs.setdefault(views.bp.name, []).append(remember)
    app.add_template_filter(presenters.time_tag, "dashboard_time")
