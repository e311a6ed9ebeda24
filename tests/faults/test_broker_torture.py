"""The embedded broker keeps its promises: concurrent producer processes, one worker, nothing lost."""

from __future__ import annotations

from pathlib import Path

from tests.faults import torture_app


def test_embedded_broker_survives_concurrent_producers(tmp_path: Path) -> None:
    result = torture_app.run("embedded", tmp_path, producers=4, per_producer=750, threads=3, timeout=180, pause=0.002)
    tail = result.worker_log[-3000:]
    assert result.producers_failed == 0, tail
    assert result.worker_exit is None, f"the worker exited ({result.worker_exit}):\n{tail}"
    assert result.lost == 0, f"{result.lost} of {result.sent} tasks never ran:\n{tail}"
    assert result.ran == set(range(result.sent))
