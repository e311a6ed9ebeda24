"""The SSRF guard: webhooks go only to public addresses, and to exactly the address that was checked.

Every attempt resolves the host once with ``socket.getaddrinfo``, refuses the URL if *any* address is
loopback, private, link-local, multicast, reserved, unspecified, shared (CGNAT), a cloud metadata
address, or an IPv6 form embedding one of those; then it connects to the checked IP itself (TLS still
verifies the certificate against the host name), so a second DNS answer cannot swap the target.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
# Enough bytes for the first 500 characters of any UTF-8 response.
_READ_LIMIT = 4096

_PORT = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
# The webhook URLs accepted, declared once for this check and the OpenAPI document: http(s), a DNS
# name or IPv4 address (no user name or password: no "@"), a port from 1 to 65535, printable ASCII.
URL_PATTERN = f"^https?://[A-Za-z0-9.-]+(:{_PORT})?([/?#][!-~]*)?$"
_URL = re.compile(URL_PATTERN)


class RefusedDestination(Exception):
    """The URL may not be called (scheme, address class or resolution); the message names no secret."""


class DeliveryError(Exception):
    """The request did not produce a response (timeout, refused connection, TLS failure...)."""


@dataclass(frozen=True)
class Target:
    """Where one attempt goes: the checked IP, plus what the request must say about the host."""

    scheme: str
    host: str
    port: int
    ip: str
    host_header: str
    path: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: str


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why *ip* may not receive webhooks, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return forbidden_reason(embedded)
    checks = (
        (ip in _METADATA, "a metadata address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def check_url_shape(url: str, *, require_https: bool) -> None:
    """Scheme, host and port, without DNS. :raises RefusedDestination:"""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedDestination("Enter a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedDestination("Enter a valid URL.")
    if parts.username is not None or parts.password is not None:
        raise RefusedDestination("The URL may not contain a user name or password.")
    if port == 0 or not _URL.fullmatch(url):
        raise RefusedDestination("Enter a valid URL.")
    if require_https and parts.scheme != "https":
        raise RefusedDestination("The URL must use https.")


def check_literal_address(url: str) -> None:
    """Refuse a URL whose host is a forbidden IP literal (names are checked when resolved).

    :raises RefusedDestination:
    """
    host = urlsplit(url).hostname or ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return
    reason = forbidden_reason(ip)
    if reason is not None:
        raise RefusedDestination(f"{host} is {reason}.")


def resolve(url: str, *, require_https: bool, allow_private: bool) -> Target:
    """Resolve the URL's host now and pick the address to connect to. :raises RefusedDestination:"""
    check_url_shape(url, require_https=require_https)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedDestination(f"Could not resolve {host}.") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise RefusedDestination(f"Could not resolve {host}.")
    if not allow_private:
        for ip in addresses:
            reason = forbidden_reason(ip)
            if reason is not None:
                raise RefusedDestination(f"Refused: {host} resolves to {ip}, {reason}.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(parts.scheme, host, port, str(addresses[0]), host_header, path)


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    """POST *body* to the pinned IP; redirects are returned, never followed. :raises DeliveryError:"""
    # Imported here: only the workers that deliver need an HTTP client (web workers stay smaller).
    import certifi
    import urllib3
    from urllib3.exceptions import HTTPError

    options: dict[str, object] = {}
    pool_class: type[urllib3.HTTPConnectionPool] = urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool_class = urllib3.HTTPSConnectionPool
        options = {
            "server_hostname": target.host,
            "assert_hostname": target.host,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": certifi.where(),
        }
    pool = pool_class(target.ip, target.port, maxsize=1, retries=False, **options)  # type: ignore[arg-type]
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            timeout=urllib3.Timeout(total=timeout),
        )
        try:
            raw = response.read(_READ_LIMIT)
        finally:
            response.close()
        return Reply(response.status, raw.decode("utf-8", errors="replace")[:500])
    except (HTTPError, OSError) as exc:
        raise DeliveryError(_describe(exc, timeout)) from None
    finally:
        pool.close()


def _describe(exc: BaseException, timeout: float) -> str:
    """A message without URL, headers or body, so no secret reaches the attempt log."""
    from urllib3.exceptions import MaxRetryError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, Urllib3Timeout | socket.timeout):
        return f"Timed out after {timeout:g} s"
    return f"Connection failed ({type(exc).__name__})"
