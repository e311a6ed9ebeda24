"""Admin accounts: creation, project membership, and throttled password login."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, case, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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


def _reserve(table: Any, where: ColumnElement[bool], count: Any, start: Any, locked: Any, now: datetime) -> bool:
    """Count one attempt against a throttle row, in one conditional ``UPDATE``: refused (False) while
    the row is locked. The count is taken *before* the password is checked, so concurrent attempts
    (other threads, other workers) can never check more than ``MAX_FAILURES`` passwords per window:
    the database serializes the updates of one row, and each one sees the count the others left.
    """
    fresh = or_(start.is_(None), start < now - WINDOW, and_(locked.is_not(None), locked <= now))
    new_count = case((fresh, 1), else_=count + 1)
    at, until = literal(now, start.type), literal(now + LOCK, locked.type)
    statement = (
        update(table)
        .where(where, or_(locked.is_(None), locked <= now))
        .values(
            {
                count: new_count,
                start: case((fresh, at), else_=start),
                locked: case((new_count >= MAX_FAILURES, until), else_=None),
            }
        )
        .returning(count)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(statement).first() is not None


def _refund(table: Any, where: ColumnElement[bool], count: Any, locked: Any, now: datetime) -> None:
    """Give back the attempt a successful login reserved: only failures count against a client."""
    remaining = count - 1
    db.session.execute(
        update(table)
        .where(where, count > 0)
        .values({count: remaining, locked: case((remaining >= MAX_FAILURES, locked), else_=None)})
        .execution_options(synchronize_session=False)
    )


def _wait(locks: list[datetime | None], now: datetime) -> timedelta:
    return max((lock - now for lock in locks if lock is not None and lock > now), default=LOCK)


def authenticate(*, email: str, password: str, client: str) -> AdminUser:
    """Check a login; count attempts per account and per client address (``TRUSTED_PROXY_COUNT``
    decides which address that is).

    :raises LoginThrottled: the account or the client is locked (checked before the password).
    :raises LoginFailed: unknown email, wrong password or inactive account (one message for all).
    """
    now = utcnow()
    client_key = client[:128]
    admin = admin_by_email(email)
    # The client's row exists before it is counted (two first attempts at once both find it).
    db.session.execute(
        _insert_ignoring_duplicates(LoginThrottle, client_key=client_key, failure_count=0, window_start=now)
    )
    by_client = LoginThrottle.client_key == client_key
    T, A = LoginThrottle, AdminUser  # short names: the throttle columns are passed one by one
    client_ok = _reserve(T, by_client, T.failure_count, T.window_start, T.locked_until, now)
    by_account = A.id == (admin.id if admin is not None else -1)
    account_ok = client_ok and (
        admin is None or _reserve(A, by_account, A.failed_login_count, A.failed_login_window_start, A.locked_until, now)
    )
    if not account_ok:
        if client_ok:  # the account was locked: this attempt did not count against the client
            _refund(T, by_client, T.failure_count, T.locked_until, now)
        locks = [db.session.scalar(select(T.locked_until).where(by_client))]
        if admin is not None:
            locks.append(db.session.scalar(select(A.locked_until).where(by_account)))
        db.session.commit()
        raise LoginThrottled(_wait(locks, now))
    db.session.commit()  # the attempts are counted before the (slow) check, and no lock is held during it
    ok = _verify(admin.password_hash if admin is not None else _DUMMY_HASH, password)
    if admin is not None and ok and admin.is_active_account:
        _refund(T, by_client, T.failure_count, T.locked_until, now)
        db.session.execute(
            update(A)
            .where(by_account)
            .values(failed_login_count=0, failed_login_window_start=None, locked_until=None, last_login_at=now)
            .execution_options(synchronize_session=False)
        )
        if _hasher.check_needs_rehash(admin.password_hash):
            db.session.execute(update(A).where(by_account).values(password_hash=_hasher.hash(password)))
        db.session.commit()
        db.session.refresh(admin)
        return admin
    if admin is not None:
        db.session.refresh(admin)
    raise LoginFailed()


def _insert_ignoring_duplicates(table: Any, **values: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the dialect of the session's database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table).values(**values).on_conflict_do_nothing()
    return sqlite_insert(table).values(**values).on_conflict_do_nothing()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
