"""Admin accounts: creation, project membership, and throttled password login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.errors import AppError, FieldErrors, NotFound
from webapp.extensions import db, utcnow
from webapp.models import AdminUser, LoginThrottle, Project, ProjectMembership
from webapp.projects import service as projects

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
INVALID_CREDENTIALS = "Invalid email or password."

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both paths cost one argon2 verification.
# A real argon2 hash (of a throwaway password, made with the same parameters), written out: hashing at
# import would make every web worker allocate argon2's 64 MiB once, for nothing.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$i5N35WnVAV6s5lT5N33A4Q$C2E0l5988OmQVLpvqverWzqafi+YcIYyU4RPCbbeNQo"


class LoginThrottled(AppError):
    """Too many failed logins for this account or from this client."""

    status = 429

    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, int(retry_after.total_seconds() + 59) // 60)
        super().__init__(f"Too many failed login attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}.")


class LoginFailed(AppError):
    status = 401

    def __init__(self) -> None:
        super().__init__(INVALID_CREDENTIALS)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_admin(*, email: str, password: str, project_ids: list[str] | None = None) -> AdminUser:
    """Create an admin (member of the given projects).

    :raises FieldErrors: malformed email, short password, or the email is taken.
    :raises NotFound: unknown project id.
    """
    email = normalize_email(email)
    errors: dict[str, list[str]] = {}
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        errors["email"] = ["Enter a valid email address."]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"Use at least {MIN_PASSWORD_LENGTH} characters."]
    if errors:
        raise FieldErrors(errors)
    found = [projects.get_project(pid) for pid in project_ids or []]
    admin = AdminUser(email=email, password_hash=_hasher.hash(password), created_at=utcnow())
    db.session.add(admin)
    for project in dict.fromkeys(found):
        db.session.add(ProjectMembership(admin=admin, project_id=project.id))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise FieldErrors({"email": ["An admin with this email already exists."]}) from None
    return admin


def add_to_project(*, email: str, project_id: str) -> AdminUser:
    """Make the admin a member of the project (idempotent). :raises NotFound: unknown admin or project."""
    admin = admin_by_email(email)
    if admin is None:
        raise NotFound(f"Admin not found: {normalize_email(email)}")
    project = projects.get_project(project_id)
    if project.id not in {m.project_id for m in admin.memberships}:
        db.session.add(ProjectMembership(admin=admin, project_id=project.id))
        db.session.commit()
    return admin


def admin_by_email(email: str) -> AdminUser | None:
    return db.session.scalar(select(AdminUser).where(AdminUser.email == normalize_email(email)))


def admin_by_object_id(object_id: str) -> AdminUser | None:
    return db.session.scalar(select(AdminUser).where(AdminUser.object_id == object_id))


def project_ids_of(admin: AdminUser) -> list[str]:
    return list(
        db.session.scalars(
            select(Project.object_id)
            .join(ProjectMembership, ProjectMembership.project_id == Project.id)
            .where(ProjectMembership.admin_id == admin.id)
            .order_by(Project.id)
        )
    )


@dataclass
class _Window:
    count: int
    start: datetime | None
    locked_until: datetime | None


def _locked_for(window: _Window, now: datetime) -> timedelta | None:
    if window.locked_until is not None and window.locked_until > now:
        return window.locked_until - now
    return None


def _count_failure(window: _Window, now: datetime) -> None:
    if window.start is None or now - window.start > WINDOW or (window.locked_until and window.locked_until <= now):
        window.count, window.start, window.locked_until = 0, now, None
    window.count += 1
    if window.count >= MAX_FAILURES:
        window.locked_until = now + LOCK


def authenticate(*, email: str, password: str, client: str) -> AdminUser:
    """Check a login; count failures per account and per client address.

    :raises LoginThrottled: the account or the client is locked (checked before the password).
    :raises LoginFailed: unknown email, wrong password or inactive account (one message for all).
    """
    now = utcnow()
    client_key = client[:128]
    throttle = db.session.scalar(select(LoginThrottle).where(LoginThrottle.client_key == client_key))
    admin = admin_by_email(email)
    windows: list[_Window] = []
    if throttle is not None:
        windows.append(_Window(throttle.failure_count, throttle.window_start, throttle.locked_until))
    if admin is not None:
        windows.append(_Window(admin.failed_login_count, admin.failed_login_window_start, admin.locked_until))
    waits = [wait for w in windows if (wait := _locked_for(w, now)) is not None]
    if waits:
        raise LoginThrottled(max(waits))
    ok = _verify(admin.password_hash if admin is not None else _DUMMY_HASH, password)
    if admin is not None and ok and admin.is_active_account:
        admin.failed_login_count, admin.failed_login_window_start, admin.locked_until = 0, None, None
        admin.last_login_at = now
        if _hasher.check_needs_rehash(admin.password_hash):
            admin.password_hash = _hasher.hash(password)
        db.session.commit()
        return admin
    if throttle is None:
        throttle = LoginThrottle(client_key=client_key, failure_count=0, window_start=now)
        db.session.add(throttle)
    by_client = _Window(throttle.failure_count, throttle.window_start, throttle.locked_until)
    _count_failure(by_client, now)
    throttle.failure_count, throttle.window_start = by_client.count, by_client.start or now
    throttle.locked_until = by_client.locked_until
    if admin is not None:
        by_account = _Window(admin.failed_login_count, admin.failed_login_window_start, admin.locked_until)
        _count_failure(by_account, now)
        admin.failed_login_count, admin.failed_login_window_start = by_account.count, by_account.start
        admin.locked_until = by_account.locked_until
    try:
        db.session.commit()
    except IntegrityError:  # two first failures from one client at once: the other row counts
        db.session.rollback()
    raise LoginFailed()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
