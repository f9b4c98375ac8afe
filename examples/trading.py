"""The article's trading agent as a runnable pipeline: quotes, alerts and news in, signals out.

Six agents share one recorded session (``data/market.jsonl``); two of them declare a
flow, an Rx operator chain between their subscription and their handler::

    quotes of AAPL, MSFT, GOOGL → [by_key(symbol, tumbling 1s), event time] → vwap
        → vwap events → trader → trade_signal
    alert → [tumbling 10s, event time] → alert_digest → alert_digest
    alert, priority 1-2 → risk → position_closed, trading_paused
    news mentioning volatility → news → volatility_warning
    order_update → orders → order_filled (the OMS's fills, booked in an `OrderBook`)

* ``vwap`` receives one list of quotes per symbol per second of *event time* (the
  quotes' timestamps, so a replay groups them as they happened, at any speed) and
  emits one ``vwap`` event per symbol-second: the volume-weighted average price, the
  volume, the average volume its quotes report (``avg_volume``), how many quotes,
  the last price, the window's bounds; its timestamp is the window's end.
* ``trader`` (a stateful `Agent` subclass) trades on those windows, not on raw
  quotes: on a volume spike (the window's volume above 1.5 x the volume its quotes
  lead one to expect, ``avg_volume`` x ``quotes``) it trades with the VWAP's move
  since the symbol's previous window (up or unchanged: buy, down: sell), one lot at
  a time within a position limit, at the VWAP, and emits a ``trade_signal``. A
  window that overlaps a trading halt is not traded at all (some of its quotes
  come from the halt), only counted.
* ``risk`` reacts to urgent alerts (priority 1-2): ``risk_limit_exceeded`` closes
  every open position (one ``position_closed`` each), ``market_halt`` halts trading
  for the halt's duration (``trading_paused``).
* ``alert_digest`` receives one list of alerts per 10 seconds of event time that had
  any, and emits one ``alert_digest`` (how many, by type, the most urgent priority).
* ``news`` turns news mentioning volatility into a ``volatility_warning``.
* ``orders`` books the order management system's ``order_update``s (new, partially
  filled, filled, cancelled) in an `OrderBook` and emits an ``order_filled`` for each
  new fill (``orders.jsonl``). Those orders are the desk's, not the trader's signals
  (no order id in common), so they are booked, not traded on.

Each run replays the whole session from its first line: the outputs are started over
when the run writes them (building the pipeline touches no file, so ``reagents graph``
draws it without side effects) and no checkpoint is kept, since a run resumed halfway
would trade from an empty portfolio. Dead letters are appended, never deleted.

A window closes when the agent's next input is past its end (the watermark: the
newest timestamp seen), or when the input ends: the pipeline then flushes the flows.
Until its window is handled a record stays unacknowledged, in flight.

Each concern gets its own subscription, unlike the article's single one whose four
filters were ANDed together.

Ordering and determinism: the trader and the risk agent share a `Portfolio`, so the
order in which they see windows and alerts matters. The source hands over one record
at a time, the pipeline yields to the event loop after each, and asyncio runs ready
tasks first in, first out. Hence an urgent alert reaches the risk agent before the
trader gets any window that a later quote closed, and a window reaches the trader
before the risk agent gets any alert after the quote that closed it: both see the
windows (in the order of the quotes that close them) and the alerts (in file order)
interleaved as the file interleaves those records. That is the order the tests
replay; a Kafka run, which can only wait longer between records, sees it too. One
exception: a worker yields to the loop after every 16 items it handles in a row, and
should that split the windows one quote closed just before an urgent alert, the risk
agent would go first for the rest (this session has no such case: the tests would
fail). Nothing here uses threads or wall-clock timers, so the same input gives the
same schedule, and derived events get ids made from what they are about rather than
random ones: every run writes the same bytes (see `build_pipeline` on watermarks).

Run it::

    python examples/trading.py [--out DIR] [--speed X] [--kafka-bootstrap HOST:PORT]
    reagents run examples/trading.py:build_pipeline
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from reagents.events import AgentEvent, decode_event
from reagents.kafka import BOOTSTRAP_ENV, KafkaConfig, ReliableProducer, TopicSpec, ensure_topics
from reagents.operators import by_key, tumbling
from reagents.operators.expression import where
from reagents.operators.filters import where_content, where_type
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import EventTime, Watermarks
from reagents.sinks.agent import Agent
from reagents.sinks.file import FileSink
from reagents.sinks.kafka import KafkaSink
from reagents.sources.base import Source
from reagents.sources.file import FileSource
from reagents.sources.kafka import KafkaSource

DATA = Path(__file__).resolve().parent / "data" / "market.jsonl"
DEFAULT_OUT = Path("out") / "trading"
SIGNALS_FILE = "signals.jsonl"
VWAP_FILE = "vwap.jsonl"
ORDERS_FILE = "orders.jsonl"
DEAD_LETTERS_FILE = "dead_letters.jsonl"
SIGNALS_TOPIC = "trading_signals"

SYMBOLS = ("AAPL", "MSFT", "GOOGL")
TRADED_QUOTES = f"type = market_data AND payload.symbol IN ({', '.join(map(repr, SYMBOLS))})"
VWAP_SECONDS = 1.0
DIGEST_SECONDS = 10.0
SPIKE_FACTOR = 1.5
LOT = 100
MAX_POSITION = 300
SIGNAL_PRIORITY = 3

WATERMARKS = Watermarks(high=64, low=32)
"""The pipeline's: far above what the flows hold (see `build_pipeline`)."""
KAFKA_WINDOW = Watermarks(high=1000, low=500)
"""The Kafka partition's: it counts every record after the oldest unacknowledged one."""

_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:reagents:examples:trading")


def stable_id(*parts: str) -> str:
    """An event id made from what the event is about: each run writes the same bytes."""
    return str(uuid.uuid5(_IDS, "/".join(parts)))


def window_of(events: Sequence[AgentEvent], seconds: float) -> tuple[datetime, datetime]:
    """The ``[start, end)`` of the ``seconds``-long `tumbling` window holding ``events``.

    `tumbling` aligns its windows to multiples of their size since the epoch and hands
    the handler only their members, so the bounds are recomputed from one of them.
    """
    start = math.floor(events[0].timestamp.timestamp() / seconds) * seconds
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + seconds, UTC)


def vwap_of(quotes: list[AgentEvent]) -> AgentEvent:
    """One ``vwap`` event for one symbol's quotes of one second (a non-empty window)."""
    last = quotes[-1]
    symbol = str(last.payload["symbol"])
    start, end = window_of(quotes, VWAP_SECONDS)
    volume = sum(int(q.payload["volume"]) for q in quotes)
    turnover = sum(float(q.payload["price"]) * int(q.payload["volume"]) for q in quotes)
    last_price = float(last.payload["price"])
    payload = {
        "symbol": symbol,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "vwap": round(turnover / volume, 4) if volume else last_price,
        "volume": volume,
        "avg_volume": sum(int(q.payload["avg_volume"]) for q in quotes) / len(quotes),
        "quotes": len(quotes),
        "last_price": last_price,
    }
    event_id = stable_id("vwap", symbol, start.isoformat())
    return last.derive("vwap", payload, event_id=event_id, timestamp=end)


def is_spike(window: Mapping[str, Any]) -> bool:
    """A volume spike: the window's volume above 1.5 x ``avg_volume`` x ``quotes``.

    Each quote reports the average volume of one quote (``avg_volume``), so a window
    of ``quotes`` quotes is expected to trade ``avg_volume x quotes``; for a window
    of one quote this is the per-quote rule of the article.
    """
    return bool(window["volume"] > SPIKE_FACTOR * window["avg_volume"] * window["quotes"])


def digest_of(alerts: list[AgentEvent]) -> AgentEvent:
    """One ``alert_digest`` for the alerts of one 10-second window (a non-empty window)."""
    start, end = window_of(alerts, DIGEST_SECONDS)
    by_type = Counter(str(alert.payload.get("type", "unknown")) for alert in alerts)
    most_urgent = min(alert.priority for alert in alerts)
    payload = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "count": len(alerts),
        "by_type": dict(sorted(by_type.items())),
        "most_urgent": most_urgent,
    }
    event_id = stable_id("alert_digest", start.isoformat())
    return alerts[-1].derive(
        "alert_digest", payload, event_id=event_id, priority=most_urgent, timestamp=end
    )


@dataclass
class Portfolio:
    """Positions (shares, negative when short), last prices and the trading halts."""

    lot: int = LOT
    max_position: int = MAX_POSITION
    positions: dict[str, int] = field(default_factory=dict)
    last_prices: dict[str, float] = field(default_factory=dict)
    halts: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def paused_until(self) -> datetime | None:
        """The end of the latest-ending halt so far."""
        return max((end for _, end in self.halts), default=None)

    def halt(self, start: datetime, end: datetime) -> datetime:
        """Halt trading over ``[start, end)``; returns until when trading is paused."""
        self.halts.append((start, end))
        return max(end for _, end in self.halts)

    def halted_during(self, start: datetime, end: datetime) -> bool:
        """Whether a halt overlaps the event-time span ``[start, end)``."""
        return any(halt_start < end and start < halt_end for halt_start, halt_end in self.halts)

    def order_size(self, symbol: str, side: str) -> int:
        """Shares one order may trade: a lot, less whatever would break the limit."""
        position = self.positions.get(symbol, 0)
        room = self.max_position - position if side == "buy" else self.max_position + position
        return max(0, min(self.lot, room))

    def fill(self, symbol: str, side: str, qty: int) -> int:
        """Book a trade; returns the new position."""
        delta = qty if side == "buy" else -qty
        self.positions[symbol] = self.positions.get(symbol, 0) + delta
        return self.positions[symbol]

    def close_all(self) -> dict[str, int]:
        """Flatten every open position; returns what was open, by symbol (sorted)."""
        open_positions = {sym: qty for sym, qty in sorted(self.positions.items()) if qty}
        self.positions.clear()
        return open_positions


class TradingAgent(Agent[AgentEvent]):
    """Trades the volume spikes of the one-second VWAP windows within the portfolio's limits."""

    subscription = "type = vwap"

    def __init__(self, portfolio: Portfolio) -> None:
        super().__init__(id="trader")
        self.portfolio = portfolio
        self.last_vwap: dict[str, float] = {}
        self.skipped_while_paused = 0
        self.capped = 0

    def handle(self, event: AgentEvent) -> AgentEvent | None:
        """A ``trade_signal`` for a volume spike outside any halt the limits allow, else nothing."""
        window = event.payload
        symbol, vwap = str(window["symbol"]), float(window["vwap"])
        previous = self.last_vwap.get(symbol, vwap)
        self.last_vwap[symbol] = vwap
        self.portfolio.last_prices[symbol] = float(window["last_price"])
        start, end = datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
        if self.portfolio.halted_during(start, end):
            self.skipped_while_paused += 1
            return None
        if not is_spike(window):
            return None
        side = "buy" if vwap >= previous else "sell"
        qty = self.portfolio.order_size(symbol, side)
        if qty == 0:
            self.capped += 1
            return None
        position = self.portfolio.fill(symbol, side, qty)
        move = "unchanged at" if vwap == previous else "up from" if vwap > previous else "down from"
        reason = (
            f"volume {window['volume']} > {SPIKE_FACTOR} x avg {window['avg_volume']:.0f}"
            f" x {window['quotes']} quote(s); VWAP {vwap:.4f} {move} {previous:.4f}"
        )
        payload = {
            "symbol": symbol,
            "side": side,
            "qty": qty,
            "price": vwap,
            "position": position,
            "reason": reason,
        }
        return event.derive(
            "trade_signal",
            payload,
            event_id=stable_id("trade_signal", event.event_id),
            priority=SIGNAL_PRIORITY,
            timestamp=event.timestamp,
        )


def on_urgent_alert(portfolio: Portfolio, event: AgentEvent) -> list[AgentEvent]:
    """Close all positions on ``risk_limit_exceeded``; pause trading on ``market_halt``."""
    kind = event.payload.get("type")
    message = str(event.payload.get("message", ""))
    if kind == "risk_limit_exceeded":
        return [
            event.derive(
                "position_closed",
                {
                    "symbol": symbol,
                    "side": "sell" if qty > 0 else "buy",
                    "qty": abs(qty),
                    "price": portfolio.last_prices.get(symbol),
                    "reason": message,
                },
                event_id=stable_id("position_closed", event.event_id, symbol),
                timestamp=event.timestamp,
            )
            for symbol, qty in portfolio.close_all().items()
        ]
    if kind == "market_halt":
        seconds = float(event.payload.get("halt_seconds", 60))
        until = portfolio.halt(event.timestamp, event.timestamp + timedelta(seconds=seconds))
        payload = {"until": until.isoformat(), "reason": message}
        event_id = stable_id("trading_paused", event.event_id)
        return [
            event.derive("trading_paused", payload, event_id=event_id, timestamp=event.timestamp)
        ]
    return []


def build_pipeline(
    data: Path = DATA,
    out_dir: Path | None = None,
    speed: float | None = None,
    kafka_topic: str | None = None,
    kafka: KafkaConfig | None = None,
) -> Pipeline:
    """The trading pipeline over ``data``, writing its outputs to ``out_dir``.

    ``out_dir`` (default ``./out/trading``) gets ``signals.jsonl`` (trade signals,
    closes, pauses, warnings, alert digests), ``vwap.jsonl`` (every window the
    trader saw), ``orders.jsonl`` (the OMS's fills) and ``dead_letters.jsonl`` (if
    anything failed, appended). The three outputs are started over when the run
    opens them, never here: building the pipeline has no side effects, and no
    checkpoint is kept (each run replays the whole session). ``speed`` replays at the recorded pace
    times ``speed`` (None: as fast as possible); windows follow the events'
    timestamps either way.

    Watermarks: windows keep their records in flight until they are handled, and
    sources paused at the high-water mark resume only once the count falls to the low
    one, so the flows must hold well under the low mark, or they would wait forever
    for the input that closes their windows (a one-record high mark stops at the
    first quote, silently). Here they hold at most 7 records at once, against a low
    mark of 32; records are still handed over one at a time (batches of 1), and that,
    not the watermarks, keeps the trader and the risk agent in step (see the module's
    docstring). Over Kafka the partition's window (`KAFKA_WINDOW`) must be far wider:
    it counts every record after the oldest unacknowledged one, and an alert waits in
    its digest window for the next alert past the window's end (up to ~130 records
    later in this session; a window of 50 stops there).

    With ``kafka_topic`` (see `publish_to_kafka`) the session is read from that topic
    instead of the file, and the signals also go to the ``trading_signals`` topic.
    """
    out = out_dir if out_dir is not None else DEFAULT_OUT
    pipeline = Pipeline("trading", dead_letters=out / DEAD_LETTERS_FILE, watermarks=WATERMARKS)
    if kafka_topic is None:
        source: Source = FileSource(
            data,
            name="market",
            speed=speed,
            batch_size=1,
            checkpoint=False,
        )
    else:
        source = KafkaSource(
            kafka_topic,
            group_id="trading",
            config=kafka,
            name="market",
            start="earliest",
            window=KAFKA_WINDOW,
            batch_size=1,
            stop_when_idle=2.0,
        )
    pipeline.add_source(source)
    portfolio = Portfolio()

    def symbol(quote: AgentEvent) -> str:
        return str(quote.payload["symbol"])

    @pipeline.agent(
        "vwap",
        subscription=TRADED_QUOTES,
        flow=[by_key(symbol, tumbling(VWAP_SECONDS))],
        flow_time=EventTime(),
    )
    def vwap(quotes: list[AgentEvent]) -> AgentEvent:
        return vwap_of(quotes)

    pipeline.add_agent(TradingAgent(portfolio))

    @pipeline.agent("risk", subscription="type = alert AND priority < 3")
    def risk(event: AgentEvent) -> list[AgentEvent]:
        return on_urgent_alert(portfolio, event)

    @pipeline.agent(
        "alert_digest",
        subscription="type = alert",
        flow=[tumbling(DIGEST_SECONDS)],
        flow_time=EventTime(),
    )
    def alert_digest(alerts: list[AgentEvent]) -> AgentEvent:
        return digest_of(alerts)

    volatility = where_content("volatility", case_sensitive=False)  # as the article

    @pipeline.agent("news", subscription=volatility & where_type("news"))
    def news(event: AgentEvent) -> AgentEvent:
        payload = {
            "headline": event.payload.get("headline"),
            "symbols": event.payload.get("symbols", []),
        }
        event_id = stable_id("volatility_warning", event.event_id)
        return event.derive(
            "volatility_warning", payload, event_id=event_id, priority=4, timestamp=event.timestamp
        )

    outputs = where(
        "type IN ('trade_signal*', 'position_closed', 'trading_paused', 'volatility_warning', "
        "'alert_digest')"
    )
    book = OrderBook()
    pipeline.agent("orders", subscription="type = order_update")(book.book)
    pipeline.add_sink(FileSink(out / SIGNALS_FILE, outputs, name="signals", fresh=True))
    pipeline.add_sink(FileSink(out / VWAP_FILE, where("type = vwap"), name="vwap_log", fresh=True))
    fills = where("type = order_filled")
    pipeline.add_sink(FileSink(out / ORDERS_FILE, fills, name="order_fills", fresh=True))
    if kafka_topic is not None:
        pipeline.add_sink(KafkaSink(SIGNALS_TOPIC, outputs, name="kafka-signals", config=kafka))
    return pipeline


async def publish_to_kafka(data: Path, config: KafkaConfig) -> str:
    """Copy the session into a new one-partition topic (one partition: the agents share
    a portfolio, so they must see the events in file order); return its name."""
    topic = f"trading_market_{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        config, [TopicSpec(name=topic, partitions=1), TopicSpec(name=SIGNALS_TOPIC)]
    )
    async with ReliableProducer(config, what="trading example") as producer:
        with data.open("rb") as lines:
            for line in lines:
                if line.strip():
                    event = decode_event(line)
                    await producer.send(topic, line.rstrip(b"\r\n"), event.conversation_id.encode())
    return topic


@dataclass
class OrderBook:
    """The OMS's orders as their last update left them, and the shares filled by symbol."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    filled: Counter[str] = field(default_factory=Counter)

    def book(self, event: AgentEvent) -> AgentEvent | None:
        """Record an ``order_update``; an ``order_filled`` for the shares newly filled."""
        update = event.payload
        order_id, symbol = str(update["order_id"]), str(update["symbol"])
        before = int(self.orders.get(order_id, {}).get("filled_qty", 0))
        self.orders[order_id] = dict(update)
        fill = int(update["filled_qty"]) - before
        if fill <= 0:
            return None
        self.filled[symbol] += fill
        payload = {
            "order_id": order_id,
            "symbol": symbol,
            "status": update["status"],
            "qty": fill,
            "filled_qty": int(update["filled_qty"]),
            "price": update["price"],
        }
        event_id = stable_id("order_filled", event.event_id)
        return event.derive("order_filled", payload, event_id=event_id, timestamp=event.timestamp)

    def by_status(self) -> Counter[str]:
        """How many orders are in each status now."""
        return Counter(str(order["status"]) for order in self.orders.values())


def trader_of(pipeline: Pipeline) -> TradingAgent:
    """The pipeline's trading agent (for its counters)."""
    return next(agent for agent in pipeline.agents if isinstance(agent, TradingAgent))


def summary(pipeline: Pipeline, produced: Counter[str]) -> Table:
    """The session's headline numbers."""
    trader = trader_of(pipeline)
    stats = pipeline.stats()
    vwap, digest = stats["vwap"], stats["alert_digest"]
    table = Table(title="Trading session")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = (
        ("events in", pipeline.counters.ingested),
        ("quotes in → vwap handler calls", f"{vwap.received} → {vwap.processed}"),
        ("VWAP windows", produced["vwap"]),
        ("trade signals out", produced["trade_signal"]),
        ("positions closed", produced["position_closed"]),
        ("trading paused", produced["trading_paused"]),
        ("windows skipped while halted", trader.skipped_while_paused),
        ("spikes capped by position limit", trader.capped),
        ("alerts in → alert digests", f"{digest.received} → {produced['alert_digest']}"),
        ("volatility warnings", produced["volatility_warning"]),
        ("order updates → fills", f"{stats['orders'].received} → {produced['order_filled']}"),
        ("dead letters", pipeline.counters.dead_letters),
    )
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def stats_table(pipeline: Pipeline) -> Table:
    """`Pipeline.stats` as a rich table, without the columns that are 0 in every row
    (in flight and queued after a run; failures, retries and dead letters when none)."""
    header, *rows = pipeline.stats().rows()
    keep = [i for i in range(len(header)) if i == 0 or any(row[i] != "0" for row in rows)]
    table = Table(title="Agents and sinks", box=box.SIMPLE_HEAD)
    for i in keep:
        table.add_column(header[i], justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Replay the session and print what the agents did."""
    parser = argparse.ArgumentParser(description="Replay a trading session through agents.")
    parser.add_argument("--data", type=Path, default=DATA, help="JSONL event log to replay")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--speed", type=float, default=None, help="replay speed (x real time)")
    parser.add_argument(
        "--kafka-bootstrap",
        default=os.environ.get(BOOTSTRAP_ENV),
        metavar="HOST:PORT",
        help=f"run over Kafka at this address (default: ${BOOTSTRAP_ENV}; unset: no Kafka)",
    )
    args = parser.parse_args(argv)

    kafka = topic = None
    if args.kafka_bootstrap:
        kafka = KafkaConfig(bootstrap_servers=args.kafka_bootstrap)
        topic = asyncio.run(publish_to_kafka(args.data, kafka))
    pipeline = build_pipeline(args.data, args.out, args.speed, kafka_topic=topic, kafka=kafka)
    produced: Counter[str] = Counter()
    pipeline.events.subscribe(lambda event: produced.update((event.event_type,)))
    asyncio.run(pipeline.run())

    # Piped output (CI logs, tests) gets room for the whole stats table.
    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(summary(pipeline, produced))
    console.print(stats_table(pipeline))
    console.print(f"signals: {args.out / SIGNALS_FILE}")
    console.print(f"VWAP windows: {args.out / VWAP_FILE}")
    console.print(f"order fills: {args.out / ORDERS_FILE}")


if __name__ == "__main__":
    main()
