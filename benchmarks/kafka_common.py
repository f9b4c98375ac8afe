"""What the Kafka benchmark's consumers share: the subscription and the peak RSS.

Imports nothing but the standard library: the raw consumers and the Quix Streams
consumer (in its own virtualenv, without reagents) import it, and their peak RSS
must not include pydantic.

``MATCH_25`` keeps exactly 3 of every 12 consecutive events of `workload.make_events`
(market data, kinds rotating every 4, for three of the six symbols, rotating every 6);
`match_25_dict` is the same test hand-written on the decoded JSON object.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any

MATCH_25 = "type = market_data AND payload.symbol IN ('AAPL', 'MSFT', 'GOOGL')"
WANTED = frozenset(("AAPL", "MSFT", "GOOGL"))


def match_25_dict(value: Any) -> bool:
    """`MATCH_25` on a decoded event's JSON object (a missing field is no match)."""
    if not isinstance(value, dict) or value.get("event_type") != "market_data":
        return False
    payload = value.get("payload")
    return isinstance(payload, dict) and payload.get("symbol") in WANTED


def peak_rss_kib() -> int:
    """This process's peak resident set size, KiB.

    On Linux, ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` of a process started by
    fork + exec begins at the RSS of the parent at the fork (the kernel keeps the
    larger), so a child of the benchmark would report the benchmark's own peak.
    Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS: converted).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak
