"""Shared settings of the property tests that feed each surface hostile input.

Each property names the only exceptions allowed to escape and bounds the time of one
example (``deadline``). Budgets are small enough for CI; ``REAGENTS_HOSTILE_SCALE=N``
multiplies every one, for a longer hunt, e.g.::

    REAGENTS_HOSTILE_SCALE=20 pytest -k hostile --hypothesis-show-statistics
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

__all__ = ["DEADLINE", "hostile"]

SCALE = max(1, int(os.environ.get("REAGENTS_HOSTILE_SCALE") or "1"))

DEADLINE = timedelta(seconds=1)
"""Far above what one example needs (microseconds to milliseconds), far below what
catastrophic backtracking or a hang takes; generous for a shared 2-core machine."""


def hostile(examples: int) -> settings:
    """Hypothesis settings: ``examples`` inputs (times the scale), the shared deadline."""
    return settings(
        max_examples=examples * SCALE,
        deadline=DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
