"""The record header that carries an event's causation depth from one process to the next.

In one process a pipeline counts how many reactions deep each event is and dead-letters
a reaction deeper than ``max_depth`` (a runaway cycle). A `KafkaSink` writes that depth
into ``reagents-depth`` and a `KafkaSource` reads it back, so agents ping-ponging over
Kafka hit the same limit. A record without the header (or with a value that is not
a plain decimal number) starts at depth 0, as any outside record does.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["DEPTH_HEADER", "depth_header", "read_depth"]

DEPTH_HEADER = "reagents-depth"


def depth_header(depth: int) -> tuple[str, bytes]:
    """The header saying an event is ``depth`` reactions deep."""
    return (DEPTH_HEADER, str(depth).encode())


def read_depth(headers: Iterable[tuple[str, bytes]] | None) -> int:
    """The depth a record's ``headers`` carry (0 when none or not a sane number)."""
    for key, value in headers or ():
        if key == DEPTH_HEADER:
            sane = isinstance(value, bytes) and 0 < len(value) <= 9 and value.isdigit()
            return int(value) if sane else 0
    return 0
