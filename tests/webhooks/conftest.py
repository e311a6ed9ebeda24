"""A real HTTP receiver on loopback, and helpers to make endpoints and outbox rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask

from webapp.extensions import db
from webapp.models import Calendar, Project, WebhookDelivery, WebhookEndpoint
from webapp.webhooks import service


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int = 200
    delay: float = 0.0
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """Records every POST; answers with the planned replies in order, then with ``default``."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.planned: list[Reply] = []
        self.default = Reply()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                try:
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    with receiver.lock:
                        receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                        reply = receiver.planned.pop(0) if receiver.planned else receiver.default
                    time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(timeout=5)


@pytest.fixture
def calendar(make_calendar: Callable[..., dict[str, Any]], app: Flask) -> Calendar:
    """A calendar of the test project, as a model."""
    created = make_calendar()
    found = db.session.scalar(db.select(Calendar).where(Calendar.object_id == created["id"]))
    assert found is not None
    return found


@pytest.fixture
def endpoint(project: Project, receiver: Receiver) -> WebhookEndpoint:
    """An active endpoint of the test project that wants both triggers, pointing at the receiver."""
    created, _ = service.create_endpoint(project=project, url=receiver.url())
    return created


def record_committed(calendar: Calendar, trigger: str) -> list[WebhookDelivery]:
    """What the sync engine does: outbox rows in the change's transaction, then the commit."""
    deliveries = service.record(calendar, trigger)
    db.session.commit()
    return deliveries
