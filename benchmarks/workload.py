"""The benchmarks' shared workload: market-like events and the filters they are put through.

About a ninth of the events pass `EXPRESSION` (the in-process benchmark, `run.py`);
`plain_predicate` is the same test written by hand (the ceiling a `where(...)` filter
is compared with). The Kafka benchmark's subscription, `MATCH_25`, lives in
`kafka_common` (exactly 3 of every 12 consecutive events pass it).
"""

from __future__ import annotations

from reagents.events import AgentEvent

SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "TSLA", "IBM")
EXPRESSION = "type = market_data AND payload.symbol IN ('AAPL', 'MSFT', 'GOOGL') AND priority < 5"


def make_events(count: int) -> list[AgentEvent]:
    """``count`` events of four kinds, six symbols and all nine priorities, in rotation."""
    kinds = ("market_data", "market_data", "news", "order_update")
    return [
        AgentEvent(
            event_type=kinds[n % 4],
            priority=1 + n % 9,
            payload={"symbol": SYMBOLS[n % 6], "price": 100 + n % 50, "volume": n % 1000},
        )
        for n in range(count)
    ]


def plain_predicate(event: AgentEvent) -> bool:
    """`EXPRESSION`, hand-written."""
    return (
        event.event_type == "market_data"
        and event.payload.get("symbol") in ("AAPL", "MSFT", "GOOGL")
        and event.priority < 5
    )
