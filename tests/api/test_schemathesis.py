"""schemathesis against the served API: every operation of GET /api/v1/openapi.json, every check.

The service runs for real (HTTP on a free loopback port, on this run's database); schemathesis
generates valid and invalid requests from the OpenAPI document, with a fixed seed, and checks each
answer against the document: no 5xx, every status and body documented, invalid requests refused,
valid ones accepted, Allow headers right, and more (``--checks all``). Any failure fails the test,
with schemathesis' report (and a command that reproduces each case) in the message.

Run it alone: ``.venv/bin/pytest tests/api/test_schemathesis.py`` (set TEST_DATABASE_URL for PostgreSQL).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.emulation import Receiver
from tests.live import served
from webapp.api.openapi import DOCUMENT

SEED = 20261206
EXAMPLES_PER_OPERATION = 50
SCHEMATHESIS = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")


def schemathesis_command(base: str, api_key: str, report_dir: Path) -> list[str]:
    return [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/api/v1/openapi.json",
        "--url",
        f"{base}/api/v1",
        "--header",
        f"Authorization: Token {api_key}",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--generation-database",
        "none",
        "--workers",
        "1",  # the SQLite pass shares one in-memory connection: one request at a time
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]


def test_schemathesis_finds_nothing(
    app: Flask,
    client: FlaskClient,
    api_key: str,
    auth: dict[str, str],
    make_calendar: Any,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    # Something for the generated requests to find besides 404s: a calendar, a webhook to the local
    # receiver (test deliveries are sent for real), a delivery and a connect session.
    make_calendar()
    webhook = client.post("/api/v1/webhooks", json={"url": receiver.url + "/hook"}, headers=auth).get_json()
    assert client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=auth).status_code == 200
    assert client.post("/api/v1/connect_sessions", json={}, headers=auth).status_code == 201
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 2
    # Every operation but GET /openapi.json itself, which schemathesis leaves out.
    operations = sum(len([m for m in item if m != "parameters"]) for item in DOCUMENT["paths"].values()) - 1
    with served(app) as base:
        result = subprocess.run(
            schemathesis_command(base, api_key, tmp_path),
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    assert f"Selected: {operations}/{operations}" in output and f"Tested: {operations}" in output, output[-5000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None, output[-5000:]
    assert int(generated[1]) == int(generated[2]) >= EXAMPLES_PER_OPERATION * operations, generated[0]
