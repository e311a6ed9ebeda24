"""What a web worker loads (README, "Performance"): ``gunicorn wsgi:app`` imports ``wsgi`` and what it builds.

Code that runs only in the Celery worker or the command line (provider clients, the webhook sender,
the sync engine, Celery, Alembic) stays out of web workers; the pages' forms and the rate limiter
are in. The import runs in a fresh interpreter, as gunicorn's does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from config import PROJECT_ROOT

LOADED = [
    "flask_wtf",
    "wtforms",
    "flask_limiter",
    "limits",
    "webapp.api.calendars",
    "webapp.dashboard.views",
    "webapp.dashboard.forms",
    "webapp.onboarding.views",
    "webapp.push.views",
    "webapp.rate_limits",
]
NOT_LOADED = [
    "celery",
    "kombu",
    "authlib",
    "requests",
    "alembic",
    "flask_migrate",
    "emulator",
    "webapp.providers.google",
    "webapp.providers.microsoft",
    "webapp.webhooks.delivery",
    "webapp.sync.jobs",
    "webapp.sync.tasks",
    "webapp.runtime.supervisor",
]


def test_a_web_worker_loads_the_pages_and_the_api_but_no_worker_code(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "APP_ENV", "FLASK_APP")}
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys, wsgi; print(json.dumps(sorted(sys.modules)))"],
        cwd=PROJECT_ROOT,
        env={**environ, "INSTANCE_PATH": str(tmp_path), "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert [name for name in LOADED if name not in modules] == []
    assert [name for name in NOT_LOADED if name in modules or any(m.startswith(f"{name}.") for m in modules)] == []
