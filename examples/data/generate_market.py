"""Generate ``market.jsonl``: a simulated trading session as a JSONL log of `AgentEvent`s.

The session starts 2026-03-02 14:30 UTC; events follow each other 80-900 ms apart.
It holds quotes (``market_data``) for six symbols with a random-walk price, a volume
and the rolling average of the previous volumes (``avg_volume``), with occasional
volume spikes; ``news`` (some about volatility); ``order_update``s; low-priority
``alert``s and a few urgent ones (priority 1-2: ``market_halt``, ``risk_limit_exceeded``)
at fixed points of the session. The same ``--seed`` and ``--events`` give the same bytes.

    python examples/data/generate_market.py --seed 7 --events 3000 --out market.jsonl
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reagents.events import AgentEvent, encode_event

DEFAULT_SEED = 7
DEFAULT_EVENTS = 3000
DEFAULT_OUT = Path(__file__).resolve().parent / "market.jsonl"
SESSION_START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)

# symbol: (opening price, typical volume per quote)
SYMBOLS: dict[str, tuple[float, int]] = {
    "AAPL": (241.50, 52_000),
    "MSFT": (412.30, 23_000),
    "GOOGL": (178.20, 31_000),
    "AMZN": (205.70, 38_000),
    "TSLA": (262.40, 96_000),
    "IBM": (256.90, 4_500),
}
ROLLING_WINDOW = 20
SPIKE_CHANCE = 0.06


@dataclass(frozen=True)
class UrgentAlert:
    """A priority 1-2 alert placed at a fixed fraction of the session."""

    at: float
    kind: str
    message: str
    halt_seconds: int | None = None


URGENT_ALERTS = (
    UrgentAlert(0.21, "market_halt", "Market-wide circuit breaker: level 1 halt", 120),
    UrgentAlert(0.43, "risk_limit_exceeded", "Daily loss limit exceeded (-2.1% vs -2.0%)"),
    UrgentAlert(0.62, "market_halt", "Exchange connectivity lost: trading halted", 90),
    UrgentAlert(0.86, "risk_limit_exceeded", "Gross exposure above $1.5M limit"),
)

VOLATILE_HEADLINES = (
    "Implied volatility jumps ahead of {sym} earnings",
    "Options desks brace for volatility in {sym}",
    "Volatility returns as bond yields climb",
    "VIX spikes: traders price in more volatility",
)
CALM_HEADLINES = (
    "{sym} announces share buyback programme",
    "Analysts lift {sym} price target",
    "{sym} shares volatile after product event",  # 'volatile' is not 'volatility'
    "Fed minutes show patience on rates",
    "{sym} supplier reports strong quarter",
)
NEWSWIRES = ("Reuters", "Bloomberg", "Dow Jones", "AP")
LOW_ALERTS: tuple[tuple[str, str], ...] = (
    ("volatility_notice", "Intraday volatility band widened for {sym}"),
    ("latency_degraded", "Feed latency above 50 ms"),
    ("position_drift", "Book position differs from broker by 1 lot"),
    ("data_gap", "Missing quotes for {sym} for 2 s"),
)
ORDER_STATUSES = ("new", "partially_filled", "filled", "cancelled")


@dataclass
class Quote:
    """One symbol's simulated market: price and the recent volumes."""

    price: float
    typical_volume: int
    volumes: deque[int] = field(default_factory=lambda: deque(maxlen=ROLLING_WINDOW))

    def __post_init__(self) -> None:
        self.volumes.extend([self.typical_volume] * ROLLING_WINDOW)


class Session:
    """Deterministic event factory: every random choice comes from one seeded `Random`."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = SESSION_START
        self.quotes = {sym: Quote(price, volume) for sym, (price, volume) in SYMBOLS.items()}
        self.order_seq = 0

    def event(self, event_type: str, source: str, priority: int, payload: dict[str, Any]) -> bytes:
        self.clock += timedelta(milliseconds=self.rng.randint(80, 900))
        event = AgentEvent(
            event_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            event_type=event_type,
            source_agent=source,
            priority=priority,
            payload=payload,
            timestamp=self.clock,
        )
        return encode_event(event)

    def symbol(self) -> str:
        return self.rng.choice(list(SYMBOLS))

    def market_data(self) -> bytes:
        sym = self.symbol()
        quote = self.quotes[sym]
        avg_volume = round(sum(quote.volumes) / len(quote.volumes))
        spike = self.rng.random() < SPIKE_CHANCE
        if spike:
            volume = round(avg_volume * self.rng.uniform(1.6, 3.5))
            move = self.rng.gauss(0, 0.004)
        else:
            volume = round(avg_volume * self.rng.lognormvariate(0, 0.22))
            move = self.rng.gauss(0, 0.0008)
        quote.price = round(quote.price * (1 + move), 2)
        quote.volumes.append(volume)
        spread = max(0.01, round(quote.price * 0.0001, 2))
        payload = {
            "symbol": sym,
            "price": quote.price,
            "bid": round(quote.price - spread / 2, 2),
            "ask": round(quote.price + spread / 2, 2),
            "volume": volume,
            "avg_volume": avg_volume,
        }
        return self.event("market_data", "market_feed", 5, payload)

    def news(self) -> bytes:
        sym = self.symbol()
        volatile = self.rng.random() < 0.3
        template = self.rng.choice(VOLATILE_HEADLINES if volatile else CALM_HEADLINES)
        headline = template.format(sym=sym)
        payload = {
            "headline": headline,
            "symbols": [sym],
            "source": self.rng.choice(NEWSWIRES),
            "text": f"{headline}. Shares of {sym} last traded at {self.quotes[sym].price:.2f}.",
        }
        return self.event("news", "newswire", self.rng.choice((4, 5, 6)), payload)

    def order_update(self) -> bytes:
        sym = self.symbol()
        self.order_seq += 1
        status = self.rng.choice(ORDER_STATUSES)
        qty = self.rng.choice((50, 100, 200, 500))
        filled = {"new": 0, "cancelled": 0, "filled": qty}.get(status, qty // 2)
        payload = {
            "order_id": f"ORD-{self.order_seq:05d}",
            "symbol": sym,
            "status": status,
            "qty": qty,
            "filled_qty": filled,
            "price": self.quotes[sym].price,
        }
        return self.event("order_update", "oms", 5, payload)

    def low_alert(self) -> bytes:
        kind, message = self.rng.choice(LOW_ALERTS)
        payload = {"type": kind, "message": message.format(sym=self.symbol())}
        return self.event("alert", "risk_monitor", self.rng.choice((6, 7, 8)), payload)

    def urgent_alert(self, alert: UrgentAlert) -> bytes:
        source = "exchange" if alert.kind == "market_halt" else "risk_monitor"
        payload: dict[str, Any] = {"type": alert.kind, "message": alert.message}
        if alert.halt_seconds is not None:
            payload["halt_seconds"] = alert.halt_seconds
        return self.event("alert", source, self.rng.choice((1, 2)), payload)


def generate(seed: int = DEFAULT_SEED, events: int = DEFAULT_EVENTS) -> Iterator[bytes]:
    """The session's events as JSONL lines (without newlines), in time order."""
    session = Session(seed)
    urgent = {max(1, int(events * alert.at)): alert for alert in URGENT_ALERTS}
    makers = (session.market_data, session.news, session.order_update, session.low_alert)
    weights = (0.82, 0.07, 0.08, 0.03)
    for index in range(events):
        if index in urgent:
            yield session.urgent_alert(urgent[index])
        else:
            yield session.rng.choices(makers, weights)[0]()


def main(argv: Sequence[str] | None = None) -> None:
    """Write the session to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="number of events")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL file")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as out:
        for line in generate(args.seed, args.events):
            out.write(line + b"\n")


if __name__ == "__main__":
    main()
