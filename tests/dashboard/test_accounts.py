"""Admin accounts: the CLI, login and its throttling, logout, CSRF, and login-required pages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.middleware.proxy_fix import ProxyFix

from config import PROJECT_ROOT, TestConfig, load_settings
from tests.conftest import TEST_DATABASE_URL, requires_postgres
from tests.dashboard.conftest import ADMIN_EMAIL, PASSWORD, log_in
from tests.live import served
from webapp import create_app, trust_proxies
from webapp.dashboard import accounts
from webapp.extensions import db, utcnow
from webapp.models import AdminUser, LoginThrottle, Project
from webapp.projects import service as projects


def test_create_admin_reads_the_password_from_stdin(app: Flask, project: Project) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create-admin", "Ops@Example.com", "--project", project.object_id], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    assert payload["email"] == "ops@example.com" and payload["projects"] == [project.object_id]
    assert payload["id"].startswith("adm_")
    assert PASSWORD not in result.output
    admin = accounts.admin_by_email("OPS@example.com")
    assert admin is not None and admin.password_hash.startswith("$argon2")


def test_create_admin_refuses_short_passwords_and_duplicates(app: Flask, admin: AdminUser) -> None:
    runner = app.test_cli_runner()
    short = runner.invoke(args=["users", "create-admin", "new@example.com"], input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    taken = runner.invoke(args=["users", "create-admin", ADMIN_EMAIL.upper()], input=PASSWORD + "\n")
    assert taken.exit_code == 1 and "already exists" in taken.output


def test_add_to_project(app: Flask, admin: AdminUser) -> None:
    other, _ = projects.create_project(name="Other")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "add-to-project", ADMIN_EMAIL, other.object_id])
    assert result.exit_code == 0, result.output
    assert other.object_id in json.loads(result.output.strip())["projects"]
    again = runner.invoke(args=["users", "add-to-project", ADMIN_EMAIL, other.object_id])
    assert len(json.loads(again.output.strip())["projects"]) == 2
    unknown = runner.invoke(args=["users", "add-to-project", "nobody@example.com", other.object_id])
    assert unknown.exit_code == 1


def test_pages_need_a_login(client: FlaskClient, project: Project) -> None:
    response = client.get(f"/dashboard/projects/{project.object_id}/calendars?state=disconnected")
    assert response.status_code == 302
    assert "/dashboard/login?next=" in response.headers["Location"]


def test_login_then_back_to_the_page_asked_for(client: FlaskClient, admin: AdminUser, project: Project) -> None:
    target = f"/dashboard/projects/{project.object_id}/calendars"
    response = client.post(
        "/dashboard/login", data={"email": "ADMIN@example.com ", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302 and response.headers["Location"] == target
    assert client.get(target).status_code == 200
    db.session.expire_all()
    assert db.session.get(AdminUser, admin.id).last_login_at is not None  # type: ignore[union-attr]


def test_login_refuses_an_offsite_next(client: FlaskClient, admin: AdminUser) -> None:
    response = client.post(
        "/dashboard/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.headers["Location"] == "/dashboard/"


def test_wrong_password_and_unknown_email_look_the_same(client: FlaskClient, admin: AdminUser) -> None:
    wrong = log_in(client, password="wrong password!!")
    unknown = log_in(client, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Invalid email or password." in response.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302


def test_five_failures_lock_the_account_even_from_other_addresses(client: FlaskClient, admin: AdminUser) -> None:
    for i in range(5):
        assert log_in(client, password="wrong", REMOTE_ADDR=f"10.0.0.{i}").status_code == 401
    locked = log_in(client, REMOTE_ADDR="10.0.1.1")  # the right password, a fresh address
    assert locked.status_code == 429
    assert "Too many failed login attempts. Try again in 15 minutes." in locked.get_data(as_text=True)
    # Once the lock has passed, the right password works and resets the counter.
    row = db.session.get(AdminUser, admin.id)
    assert row is not None
    row.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert log_in(client, REMOTE_ADDR="10.0.1.2").status_code == 302
    db.session.expire_all()
    assert db.session.get(AdminUser, admin.id).failed_login_count == 0  # type: ignore[union-attr]


def test_five_failures_from_one_address_lock_that_address(client: FlaskClient, admin: AdminUser) -> None:
    for i in range(5):
        assert log_in(client, email=f"guess{i}@example.com", REMOTE_ADDR="10.9.9.9").status_code == 401
    assert log_in(client, REMOTE_ADDR="10.9.9.9").status_code == 429
    assert log_in(client, REMOTE_ADDR="10.9.9.10").status_code == 302


def test_failures_outside_the_window_do_not_add_up(app: Flask, admin: AdminUser) -> None:
    for _ in range(4):
        try:
            accounts.authenticate(email=ADMIN_EMAIL, password="wrong", client="10.1.1.1")
        except accounts.LoginFailed:
            pass
    row = db.session.get(AdminUser, admin.id)
    assert row is not None and row.failed_login_count == 4
    row.failed_login_window_start = utcnow() - timedelta(minutes=16)
    db.session.commit()
    try:
        accounts.authenticate(email=ADMIN_EMAIL, password="wrong", client="10.1.1.2")
    except accounts.LoginFailed:
        pass
    assert row.failed_login_count == 1 and row.locked_until is None


def test_logout_is_a_post(dash: FlaskClient) -> None:
    assert dash.get("/dashboard/logout").status_code == 405
    response = dash.post("/dashboard/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/login"
    assert dash.get("/dashboard/").status_code == 302


def test_csrf_protects_dashboard_forms(app: Flask, dash: FlaskClient, project: Project) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = dash.post("/dashboard/logout")
    assert response.status_code == 400
    assert "Please reload the page" in response.get_data(as_text=True)
    response = dash.post(f"/dashboard/projects/{project.object_id}/settings/api-keys", data={"name": "x"})
    assert response.status_code == 400
    # With the token from a page, the same form goes through.
    page = dash.get(f"/dashboard/projects/{project.object_id}/settings").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    ok = dash.post(
        f"/dashboard/projects/{project.object_id}/settings/api-keys", data={"name": "x", "csrf_token": token}
    )
    assert ok.status_code == 200 and "shown only once" in ok.get_data(as_text=True)


def test_login_page_and_security_headers(client: FlaskClient) -> None:
    response = client.get("/dashboard/login")
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "<script>" not in body and "http://" not in body.replace("http://localhost", "")


def test_trusted_proxy_count_is_read_from_the_environment(tmp_path: Path) -> None:
    assert load_settings({}, tmp_path)["TRUSTED_PROXY_COUNT"] == 0
    assert load_settings({"TRUSTED_PROXY_COUNT": "2"}, tmp_path)["TRUSTED_PROXY_COUNT"] == 2
    behind_two = create_app(TestConfig, migrations=False, TRUSTED_PROXY_COUNT=2)
    assert isinstance(behind_two.wsgi_app, ProxyFix) and behind_two.wsgi_app.x_for == 2
    assert not isinstance(create_app(TestConfig, migrations=False).wsgi_app, ProxyFix)


def test_without_trusted_proxies_a_forwarded_header_does_not_escape_the_throttle(
    client: FlaskClient, admin: AdminUser
) -> None:
    for i in range(5):
        forged = {"X-Forwarded-For": f"198.51.100.{i}"}
        response = client.post(
            "/dashboard/login",
            data={"email": f"guess{i}@example.com", "password": "x"},
            headers=forged,
            environ_base={"REMOTE_ADDR": "10.7.7.7"},
        )
        assert response.status_code == 401
    assert log_in(client, REMOTE_ADDR="10.7.7.7").status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_counter(
    app: Flask, client: FlaskClient, admin: AdminUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request comes from the proxy's address; the address it forwards is the client's."""
    monkeypatch.setitem(app.config, "TRUSTED_PROXY_COUNT", 1)
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # restored after the test
    trust_proxies(app)
    proxy = {"REMOTE_ADDR": "10.0.0.1"}

    def attempt(client_address: str, email: str) -> int:
        response = client.post(
            "/dashboard/login",
            data={"email": email, "password": PASSWORD if email == ADMIN_EMAIL else "x"},
            headers={"X-Forwarded-For": f"192.0.2.250, {client_address}"},  # the first one is forged
            environ_base=proxy,
        )
        return response.status_code

    for i in range(5):
        assert attempt("203.0.113.7", f"guess{i}@example.com") == 401
    assert attempt("203.0.113.7", ADMIN_EMAIL) == 429  # that client is locked ...
    assert attempt("203.0.113.8", ADMIN_EMAIL) == 302  # ... not everyone behind the proxy
    keys = set(db.session.scalars(select(LoginThrottle.client_key)))
    assert keys == {"203.0.113.7", "203.0.113.8"}


def test_a_successful_login_does_not_count_against_the_client(client: FlaskClient, admin: AdminUser) -> None:
    for _ in range(10):
        assert log_in(client, REMOTE_ADDR="10.3.3.3").status_code == 302
        client.post("/dashboard/logout")
    row = db.session.scalar(select(LoginThrottle).where(LoginThrottle.client_key == "10.3.3.3"))
    assert row is not None and row.failure_count == 0 and row.locked_until is None


@requires_postgres
def test_concurrent_wrong_passwords_check_exactly_five(app: Flask, admin: AdminUser) -> None:
    """20 wrong passwords at once, over HTTP to a threaded server (one database connection per
    request): exactly five are checked, the other fifteen are throttled before any check."""
    checked: list[str] = []
    real_verify = accounts._verify

    def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password)
        return real_verify(password_hash, password)

    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def attempt(base: str, i: int) -> None:
        session = requests.Session()
        barrier.wait()
        response = session.post(
            f"{base}/dashboard/login", data={"email": ADMIN_EMAIL, "password": f"wrong {i}"}, timeout=60
        )
        statuses.append(response.status_code)

    with mock.patch.object(accounts, "_verify", counting_verify), served(app) as base:
        threads = [threading.Thread(target=attempt, args=(base, i)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(checked) == 5, checked
    assert sorted(statuses) == [401] * 5 + [429] * 15
    db.session.expire_all()
    row = db.session.get(AdminUser, admin.id)
    assert row is not None and row.failed_login_count == 5 and row.locked_until is not None


@requires_postgres
def test_concurrent_wrong_passwords_against_two_gunicorn_workers(admin: AdminUser, tmp_path: Path) -> None:
    """The probe's setting: 20 wrong passwords at once against 2 gunicorn worker processes. A 401
    comes only after a password check and a 429 only before one: exactly 5 checks, no lost update."""
    env = {
        **os.environ,
        "DATABASE_URL": TEST_DATABASE_URL,
        "SECRET_KEY": str(TestConfig.SECRET_KEY),
        "CREDENTIALS_ENCRYPTION_KEYS": ",".join(TestConfig.CREDENTIALS_ENCRYPTION_KEYS),
        "INSTANCE_PATH": str(tmp_path),
        "APP_ENV": "development",
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "2", "wsgi:app"]
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(re.findall(r"Booting worker", log.read_text())) < 2 or "Listening at" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        port = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log.read_text())
        assert port is not None
        base = f"http://127.0.0.1:{port[1]}"
        barrier = threading.Barrier(20)
        statuses: list[int] = []

        def attempt(i: int) -> None:
            session = requests.Session()
            page = session.get(f"{base}/dashboard/login", timeout=60).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token is not None
            form = {"email": ADMIN_EMAIL, "password": f"wrong {i}", "csrf_token": token[1]}
            barrier.wait()
            statuses.append(session.post(f"{base}/dashboard/login", data=form, timeout=120).status_code)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert sorted(statuses) == [401] * 5 + [429] * 15, statuses
    db.session.expire_all()
    row = db.session.get(AdminUser, admin.id)
    assert row is not None and row.failed_login_count == 5 and row.locked_until is not None
