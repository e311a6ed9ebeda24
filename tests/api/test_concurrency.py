"""Concurrent creates with one deduplication key: the database decides, exactly one wins."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask

from tests.conftest import VALID_CALENDAR, requires_postgres


@requires_postgres
def test_two_concurrent_creates_with_one_key_give_one_201_and_one_400(app: Flask, auth: dict[str, str]) -> None:
    for round_number in range(5):
        barrier = threading.Barrier(2)
        results: list[tuple[int, Any]] = []
        body = {**VALID_CALENDAR, "deduplication_key": f"race-{round_number}"}

        def create(
            body: dict[str, Any] = body,
            barrier: threading.Barrier = barrier,
            results: list[tuple[int, Any]] = results,
        ) -> None:
            client = app.test_client()
            barrier.wait()
            response = client.post("/api/v1/calendars", json=body, headers=auth)
            results.append((response.status_code, response.get_json()))

        threads = [threading.Thread(target=create) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(status for status, _ in results)
        assert statuses == [201, 400], results
        error = next(body for status, body in results if status == 400)
        assert error == {
            "deduplication_key": ["A calendar with this deduplication key already exists in this project."]
        }
