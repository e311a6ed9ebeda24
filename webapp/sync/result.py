"""The outcome of one sync run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from webapp.extensions import utcnow
from webapp.models import SyncAttempt


@dataclass(frozen=True)
class SyncResult:
    outcome: str  # success | failure | skipped
    created: int = 0
    updated: int = 0
    deleted: int = 0
    error_code: str | None = None
    provider_calls: int = 0


@dataclass(frozen=True)
class Stopwatch:
    """Wall-clock start (for history) and a monotonic start (for the duration) of one attempt."""

    started_at: datetime
    started: float

    @classmethod
    def start(cls) -> Stopwatch:
        return cls(utcnow(), time.monotonic())

    def attempt(self, calendar_id: int, **fields: Any) -> SyncAttempt:
        """The history row of this attempt, finished now."""
        duration_ms = int((time.monotonic() - self.started) * 1000)
        return SyncAttempt(
            calendar_id=calendar_id,
            started_at=self.started_at,
            finished_at=self.started_at + timedelta(milliseconds=duration_ms),
            duration_ms=duration_ms,
            **fields,
        )
