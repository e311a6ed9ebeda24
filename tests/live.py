"""The service served over real HTTP on 127.0.0.1, and the headless Chromium that browser tests drive."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from werkzeug.serving import make_server

from emulator.servers import QuietRequestHandler

CHROMIUM = "/usr/bin/chromium"  # Debian's package: never a tool's own browser download
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

requires_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium chromium-driver); CI always runs",
)


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """Serve *app* in a thread on a free port; its ``PUBLIC_BASE_URL`` is that address meanwhile."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


BLOCKING_IMPACTS = ("serious", "critical")


def assert_accessible(page: object, name: str) -> None:
    """axe-core (bundled in ``axe-playwright-python``, nothing downloaded) finds no serious or
    critical violation on the page as it is now, in light and dark colour schemes."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)  # type: ignore[attr-defined]
        results = axe.run(page)
        blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
        details = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}" for v in blocking
        ]
        assert not blocking, f"{name} ({scheme}): " + "; ".join(details)
    page.emulate_media(color_scheme="light")  # type: ignore[attr-defined]
