"""Run a benchmark under the project's virtual environment, whatever ``python`` started it.

``python bench/api.py`` with the machine's own interpreter lacks the project's packages; this
creates ``.venv`` when missing (``bin/bootstrap``, as the README's commands do) and re-executes
the script with ``.venv/bin/python``. Imported first, before anything outside the standard library.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def ensure() -> None:
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        return
    subprocess.run([str(ROOT / "bin" / "bootstrap")], check=True)
    sys.stderr.write(f"re-running under {VENV_PYTHON}\n")
    sys.stderr.flush()
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])


ensure()
