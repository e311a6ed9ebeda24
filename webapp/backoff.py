"""The one retry delay of the service: failed syncs and failed webhook deliveries wait the same way."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds before retry *attempt* (1, 2, …): doubling from *base* up to *cap*, drawn at random
    from the upper half so that failures that happened together do not retry together."""
    ceiling = min(float(cap), float(base) * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)
