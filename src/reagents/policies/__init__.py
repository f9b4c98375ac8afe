"""Small validated policy objects shared by the Rx operators and the runtime.

Each policy has ONE implementation here, used wherever it applies: by the runtime to
an agent (event-loop time) and by the flow operator that applies it inside a flow
(scheduler time, so virtual time in tests):

* `Backoff` — how many retries and how long before each (`Backoff.delay`);
* `ModelBudget` — the requests/min, tokens/min and calls in flight LLM agents share,
  with pauses for a 429's Retry-After (`BudgetLimits`, `BudgetLease`);
* `RateLimit` — a token bucket (`TokenBucket`), which delays and never drops;
* `Overflow` — what a full buffer does with one more item (`offer`);
* `Watermarks` — how much may be in flight before sources pause;
* `PriorityFifo` — most urgent first, first in first out among equals;
* `ProcessingTime` / `EventTime` — which clock an agent's flow runs on.

This package imports only the contracts (events, errors), never operators or runtime.
"""

from reagents.policies.backoff import Backoff
from reagents.policies.budget import BudgetLease, ModelBudget
from reagents.policies.budget_limits import BudgetLimits
from reagents.policies.overflow import DropReason, Overflow, offer
from reagents.policies.priority import HasPriority, PriorityFifo, priority_of
from reagents.policies.rate import RateLimit, TokenBucket
from reagents.policies.time import EventTime, FlowTime, ProcessingTime
from reagents.policies.watermarks import Watermarks

__all__ = [
    "Backoff",
    "BudgetLease",
    "BudgetLimits",
    "DropReason",
    "EventTime",
    "FlowTime",
    "HasPriority",
    "ModelBudget",
    "Overflow",
    "PriorityFifo",
    "ProcessingTime",
    "RateLimit",
    "TokenBucket",
    "Watermarks",
    "offer",
    "priority_of",
]
