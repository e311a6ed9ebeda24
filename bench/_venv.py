"""Run a benchmark on the installed project, under its virtual environment, whatever ``python``
started it.

``bin/bootstrap`` runs first (as the README's commands do): it creates ``.venv`` when missing and
compiles the project's bytecode, so servers measured load it as a deployed service does rather
than compile every module at start. Then, if this is not ``.venv/bin/python``, the script is
re-executed with it. Imported first, before anything outside the standard library.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def ensure() -> None:
    if os.environ.get("BENCH_BOOTSTRAPPED") != str(ROOT):
        subprocess.run([str(ROOT / "bin" / "bootstrap")], check=True)
        os.environ["BENCH_BOOTSTRAPPED"] = str(ROOT)  # once, even across the re-execution below
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        return
    sys.stderr.write(f"re-running under {VENV_PYTHON}\n")
    sys.stderr.flush()
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])


ensure()
