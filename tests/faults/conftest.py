"""Fault tests run the real service: ``flask serve`` (gunicorn, Celery worker and beat) in child processes.

On the SQLite pass the service runs on its embedded default (a SQLite file and the embedded broker
in a temporary instance folder); on the PostgreSQL pass on the test database and Redis. Every
process the service starts carries its ``INSTANCE_PATH`` in its environment, which is how a test
finds them all (and finds survivors) without matching names of other processes on the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask import Flask

from config import PROJECT_ROOT, TestConfig
from emulator.servers import RunningEmulators
from tests.conftest import TEST_DATABASE_URL, using_postgres
from tests.webhooks.conftest import receiver  # noqa: F401  (webhook endpoint on loopback; not the emulator's)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
APPLICATION_NAME = "faults-service"  # how the PostgreSQL test finds the service's own connections


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def processes_of(instance: Path) -> dict[int, str]:
    """Every live process started with INSTANCE_PATH=*instance*: pid -> command line."""
    marker = f"INSTANCE_PATH={instance}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":  # a zombie has exited; its parent reaps it
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
    return found


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Poll *condition* until it returns something truthy (returned), or fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


@dataclass
class Service:
    """A running ``flask serve`` and the means to reach and hurt it."""

    process: subprocess.Popen[bytes]
    instance: Path
    base: str
    env: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self, needle: str) -> list[int]:
        return [pid for pid, cmd in processes_of(self.instance).items() if needle in cmd]

    def worker_pid(self) -> int | None:
        pids = self.pids("wsgi:celery_app worker")
        return pids[0] if len(pids) == 1 else None

    def api(self, method: str, path: str, key: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Token {key}"}
        with requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs) as response:
            _ = response.content
        return response

    def flask(self, *args: str, stdin: str | None = None) -> str:
        """A ``flask`` command against the same settings (database, instance folder)."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", *args], cwd=PROJECT_ROOT, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def service_env(instance: Path, emulators: RunningEmulators) -> dict[str, str]:
    env = {
        **os.environ,
        **emulators.settings(),
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": str(TestConfig.SECRET_KEY),
        "CREDENTIALS_ENCRYPTION_KEYS": ",".join(TestConfig.CREDENTIALS_ENCRYPTION_KEYS),
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "APP_ENV", "FLASK_APP"):
        env.pop(name, None)
    if using_postgres():
        separator = "&" if "?" in TEST_DATABASE_URL else "?"
        env["DATABASE_URL"] = f"{TEST_DATABASE_URL}{separator}application_name={APPLICATION_NAME}"
        env["CELERY_BROKER_URL"] = REDIS_URL
    return env


def start_service(env: dict[str, str], instance: Path, *args: str, port: int | None = None) -> Service:
    port = port or free_port()
    log_path = instance / f"serve-{port}.log"
    command = [sys.executable, "-m", "flask", "serve", "--port", str(port), "--workers", "1", *args]
    with log_path.open("wb") as handle:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return Service(process, instance, f"http://127.0.0.1:{port}", env, log_path)


def wait_until_ready(service: Service, timeout: float = 60) -> None:
    def answers() -> bool:
        if service.process.poll() is not None:
            raise AssertionError(f"flask serve exited ({service.process.returncode}):\n{service.log()[-3000:]}")
        try:
            with requests.get(service.base + "/api/v1/openapi.json", timeout=2) as response:
                return response.status_code == 200
        except requests.RequestException:
            return False

    assert wait_for(answers, timeout), f"flask serve did not answer within {timeout} s:\n{service.log()[-3000:]}"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Path]:
    """The service's instance folder; after the test, no process of the service may remain."""
    folder = tmp_path / "instance"
    folder.mkdir()
    yield folder
    survivors = processes_of(folder)
    for pid in survivors:  # leave the machine clean, then fail
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not survivors, f"processes outlived the service: {survivors}"


@pytest.fixture
def fault_env(app: Flask, instance: Path, emulators: RunningEmulators) -> dict[str, str]:
    """Settings for a real service. ``app`` empties the PostgreSQL tables after the test."""
    if using_postgres():
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            client.flushdb()
        except redis.RedisError as exc:
            pytest.fail(f"Redis is needed on the PostgreSQL pass and is not reachable at {REDIS_URL}: {exc}")
        finally:
            client.close()
    return service_env(instance, emulators)


@pytest.fixture
def service(fault_env: dict[str, str], instance: Path) -> Iterator[Service]:
    """``flask serve`` with a worker of 24 threads, ready to answer."""
    running = start_service(fault_env, instance, "--worker-concurrency", "24")
    try:
        wait_until_ready(running)
        yield running
    finally:
        running.stop()
