"""Rx operators for agent event streams, each usable in ``Observable.pipe``.

Filters (``where_type``, ``where``, ...) are composable values *and* operators. The
flow operators (``batch``, ``tumbling``, ``hopping``, ``session``, ``by_key``,
``debounce``, ``sample``, ``throttle_first``, ``scan``, ``distinct_until_changed``,
``with_latest_from``, ``combine_latest``, ``each``) run inside an agent's flow, where
every value carries the acknowledgements of the records it was made from (`Held`).
Time-based operators take ``scheduler=`` and otherwise use the subscribe-time
scheduler, so they all run in virtual time under ``reactivex.testing``.
"""

from reagents.operators._flow import Flow, FlowContext, FlowOperator, as_flow
from reagents.operators.batch import batch
from reagents.operators.by_key import by_key
from reagents.operators.combine import combine_latest, with_latest_from
from reagents.operators.debounce import debounce
from reagents.operators.dedupe import deduplicate
from reagents.operators.distinct import distinct_until_changed
from reagents.operators.each import each
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
from reagents.operators.sample import sample
from reagents.operators.scan import scan
from reagents.operators.session import session
from reagents.operators.throttle import throttle
from reagents.operators.throttle_first import throttle_first
from reagents.operators.windows import hopping, tumbling

__all__ = [
    "Filter",
    "Flow",
    "FlowContext",
    "FlowOperator",
    "TypeSet",
    "addressed_only",
    "any_event",
    "as_flow",
    "batch",
    "by_key",
    "combine_latest",
    "debounce",
    "deduplicate",
    "distinct_until_changed",
    "each",
    "hopping",
    "parse_expression",
    "sample",
    "scan",
    "session",
    "throttle",
    "throttle_first",
    "tumbling",
    "where",
    "where_content",
    "where_field",
    "where_jsonpath",
    "where_regex",
    "where_type",
    "with_latest_from",
]
