"""The outcome of one sync run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncResult:
    outcome: str  # success | failure | skipped
    created: int = 0
    updated: int = 0
    deleted: int = 0
    error_code: str | None = None
    provider_calls: int = 0
