"""The SSRF guard: every forbidden address class, checked after resolution, and the connection pinned."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from flask import Flask

from tests.webhooks.conftest import Receiver, record_committed
from webapp.extensions import utcnow
from webapp.models import Calendar, Project
from webapp.webhooks import delivery, service, ssrf


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("169.254.10.10", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a metadata address"),
        ("fd00:ec2::254", "a metadata address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("100.127.255.254", "a shared (CGNAT) address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("::ffff:169.254.169.254", "a metadata address"),
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "a metadata address"),  # NAT64 of 169.254.169.254
        ("192.0.2.1", "a private address"),  # documentation range
    ],
)
def test_forbidden_address_classes(address: str, reason: str) -> None:
    assert ssrf.forbidden_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "100.128.0.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert ssrf.forbidden_reason(ipaddress.ip_address(address)) is None


def _resolve_to(monkeypatch: pytest.MonkeyPatch, mapping: dict[str, list[str]]) -> list[str]:
    """Answer chosen names with chosen addresses; everything else resolves for real. Returns the lookups."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in mapping:
            looked_up.append(host)
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in mapping[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return looked_up


def test_a_name_is_refused_when_any_of_its_addresses_is_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolve_to(monkeypatch, {"mixed.example.test": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(ssrf.RefusedDestination, match="resolves to 10.0.0.5, a private address"):
        ssrf.resolve("https://mixed.example.test/hook", require_https=False, allow_private=False)


def test_delivery_to_a_name_resolving_to_loopback_is_refused(
    app: Flask,
    project: Project,
    calendar: Calendar,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up = _resolve_to(monkeypatch, {"hooks.example.test": ["127.0.0.1"]})
    endpoint, _ = service.create_endpoint(project=project, url=f"http://hooks.example.test:{receiver.port}/hook")
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    [pending] = record_committed(calendar, "calendar.state_change")

    sent = delivery.deliver(pending.id, now=utcnow())

    assert sent is not None and sent.status == "pending"
    [attempt] = sent.attempts
    assert attempt.status_code is None
    assert attempt.error == "Refused: hooks.example.test resolves to 127.0.0.1, a loopback address."
    assert receiver.requests == []
    assert looked_up == ["hooks.example.test"]  # resolved at the attempt, not trusted from creation


def test_localhost_is_refused(app: Flask, project: Project, calendar: Calendar, receiver: Receiver) -> None:
    service.create_endpoint(project=project, url=f"http://localhost:{receiver.port}/hook")
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    [pending] = record_committed(calendar, "calendar.state_change")
    sent = delivery.deliver(pending.id, now=utcnow())
    assert sent is not None and sent.attempts[0].error is not None
    assert sent.attempts[0].error.startswith("Refused: localhost resolves to")
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address(
    project: Project, calendar: Calendar, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up = _resolve_to(monkeypatch, {"hooks.example.test": ["127.0.0.1"]})
    service.create_endpoint(project=project, url=f"http://hooks.example.test:{receiver.port}/hook?x=1")
    [pending] = record_committed(calendar, "calendar.state_change")

    sent = delivery.deliver(pending.id, now=utcnow())

    assert sent is not None and sent.status == "delivered"
    [request] = receiver.requests
    assert request.path == "/hook?x=1"
    assert request.headers["Host"] == f"hooks.example.test:{receiver.port}"
    assert looked_up == ["hooks.example.test"]  # one lookup; the socket used its answer


def test_https_is_required_in_production(app: Flask, project: Project, calendar: Calendar, receiver: Receiver) -> None:
    service.create_endpoint(project=project, url=receiver.url())
    app.config["APP_ENV"] = "production"
    [pending] = record_committed(calendar, "calendar.state_change")
    sent = delivery.deliver(pending.id, now=utcnow())
    assert sent is not None and sent.attempts[0].error == "The URL must use https."
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "http://", "example.com/hook", "http://user:pw@example.com/", "http://example.com:0/"],
)
def test_url_shapes_that_are_refused(url: str) -> None:
    with pytest.raises(ssrf.RefusedDestination):
        ssrf.check_url_shape(url, require_https=False)
