"""Plain Rx operators for agent event streams, each usable in ``Observable.pipe``.

Filters (``where_type``, ``where``, ...) are composable values *and* operators;
time-based operators take ``scheduler=`` and otherwise use the subscribe-time
scheduler, so they all run in virtual time under ``reactivex.testing``.
"""

from reagents.operators.backpressure import bounded_buffer
from reagents.operators.dedupe import deduplicate
from reagents.operators.expression import parse_expression, where
from reagents.operators.filters import (
    Filter,
    TypeSet,
    addressed_only,
    any_event,
    where_content,
    where_field,
    where_jsonpath,
    where_regex,
    where_type,
)
from reagents.operators.isolate import map_isolated, map_isolated_async
from reagents.operators.priority import priority_buffer, priority_merge
from reagents.operators.retry import retry_with_backoff
from reagents.operators.throttle import throttle

__all__ = [
    "Filter",
    "TypeSet",
    "addressed_only",
    "any_event",
    "bounded_buffer",
    "deduplicate",
    "map_isolated",
    "map_isolated_async",
    "parse_expression",
    "priority_buffer",
    "priority_merge",
    "retry_with_backoff",
    "throttle",
    "where",
    "where_content",
    "where_field",
    "where_jsonpath",
    "where_regex",
    "where_type",
]
