"""Run both emulated providers on loopback addresses in daemon threads.

Google binds 127.0.0.2 and Microsoft 127.0.0.3, so that the provider is genuinely cross-site from
the app under test on 127.0.0.1 (cookies with ``SameSite`` behave as in production).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from emulator import create_google_app, create_microsoft_app
from emulator.state import ProviderState

GOOGLE_HOST = "127.0.0.2"
MICROSOFT_HOST = "127.0.0.3"


class QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request (tests make thousands)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def service_settings(google_base: str, microsoft_base: str) -> dict[str, str]:
    """The service settings that point it at the emulator (same names as in ``config.py``)."""
    google_base = google_base.rstrip("/")
    microsoft_base = microsoft_base.rstrip("/")
    return {
        "GOOGLE_AUTHORIZE_URL": google_base + "/o/oauth2/v2/auth",
        "GOOGLE_TOKEN_URL": google_base + "/token",
        "GOOGLE_REVOKE_URL": google_base + "/revoke",
        "GOOGLE_USERINFO_URL": google_base + "/v1/userinfo",
        "GOOGLE_JWKS_URL": google_base + "/oauth2/v3/certs",
        "GOOGLE_CALENDAR_API_URL": google_base + "/calendar/v3",
        "MICROSOFT_LOGIN_URL": microsoft_base,
        "MICROSOFT_TENANT": "common",
        "MICROSOFT_GRAPH_URL": microsoft_base + "/v1.0",
    }


@dataclass
class RunningEmulators:
    """Both providers, serving. ``stop()`` shuts them down and closes their sockets."""

    google_state: ProviderState
    microsoft_state: ProviderState
    google_server: BaseWSGIServer
    microsoft_server: BaseWSGIServer
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def google_url(self) -> str:
        return f"http://{self.google_server.host}:{self.google_server.server_port}"

    @property
    def microsoft_url(self) -> str:
        return f"http://{self.microsoft_server.host}:{self.microsoft_server.server_port}"

    def settings(self) -> dict[str, str]:
        return service_settings(self.google_url, self.microsoft_url)

    def reset(self) -> None:
        self.google_state.reset()
        self.microsoft_state.reset()

    def stop(self) -> None:
        for server in (self.google_server, self.microsoft_server):
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)

    def __enter__(self) -> RunningEmulators:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulators(
    google_host: str = GOOGLE_HOST,
    google_port: int = 0,
    microsoft_host: str = MICROSOFT_HOST,
    microsoft_port: int = 0,
    *,
    quiet: bool = True,
) -> RunningEmulators:
    """Start both providers (port 0 = a free port) and return once they accept connections."""
    google_state = ProviderState("google")
    microsoft_state = ProviderState("microsoft")
    handler = QuietRequestHandler if quiet else None
    google_app = create_google_app(google_state)
    google_server = make_server(google_host, google_port, google_app, threaded=True, request_handler=handler)
    try:
        microsoft_app = create_microsoft_app(microsoft_state)
        microsoft_server = make_server(
            microsoft_host, microsoft_port, microsoft_app, threaded=True, request_handler=handler
        )
    except BaseException:
        google_server.server_close()
        raise
    running = RunningEmulators(google_state, microsoft_state, google_server, microsoft_server)
    for name, server in (("google", google_server), ("microsoft", microsoft_server)):
        thread = threading.Thread(target=server.serve_forever, name=f"emulator-{name}", daemon=True)
        thread.start()
        running.threads.append(thread)
    return running
