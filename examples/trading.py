"""The article's trading agent as a runnable pipeline: quotes, alerts and news in, signals out.

Three agents share one recorded session (``data/market.jsonl``):

* ``trader`` (a stateful `Agent` subclass) watches AAPL, MSFT and GOOGL quotes; on a
  volume spike (volume > 1.5 x the rolling average) it trades with the price move
  (up or unchanged: buy, down: sell), one lot at a time within a position limit,
  and emits a ``trade_signal``. While trading is halted it only counts the quotes.
* ``risk`` reacts to urgent alerts (priority 1-2): ``risk_limit_exceeded`` closes
  every open position (one ``position_closed`` each), ``market_halt`` pauses trading
  for the halt's duration (``trading_paused``).
* ``news`` turns news mentioning volatility into a ``volatility_warning``.

Unlike the article's single subscription, whose four filters were ANDed together
(so it matched next to nothing), each concern gets its own subscription. The trader
and the risk agent share a `Portfolio`; the session is replayed strictly in file
order (see `build_pipeline`), so every run produces the same signals.

Run it::

    python examples/trading.py [--out DIR] [--speed X] [--kafka-bootstrap HOST:PORT]
    reagents run examples/trading.py:build_pipeline
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from reagents.events import AgentEvent, decode_event
from reagents.kafka import BOOTSTRAP_ENV, KafkaConfig, ReliableProducer, TopicSpec, ensure_topics
from reagents.operators.expression import where
from reagents.operators.filters import where_content, where_type
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Watermarks
from reagents.sinks.agent import Agent
from reagents.sinks.file import FileSink
from reagents.sinks.kafka import KafkaSink
from reagents.sources.base import Source
from reagents.sources.file import FileSource
from reagents.sources.kafka import KafkaSource

DATA = Path(__file__).resolve().parent / "data" / "market.jsonl"
DEFAULT_OUT = Path("out") / "trading"
SIGNALS_FILE = "signals.jsonl"
DEAD_LETTERS_FILE = "dead_letters.jsonl"
SIGNALS_TOPIC = "trading_signals"

SYMBOLS = ("AAPL", "MSFT", "GOOGL")
SPIKE_FACTOR = 1.5
LOT = 100
MAX_POSITION = 300
SIGNAL_PRIORITY = 3
IDLE_COLUMNS = ("in flight", "queued")


@dataclass
class Portfolio:
    """Positions (shares, negative when short), last prices and the trading halt."""

    lot: int = LOT
    max_position: int = MAX_POSITION
    positions: dict[str, int] = field(default_factory=dict)
    last_prices: dict[str, float] = field(default_factory=dict)
    paused_until: datetime | None = None

    def is_paused(self, at: datetime) -> bool:
        """Whether trading is halted at event time ``at``."""
        return self.paused_until is not None and at < self.paused_until

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


class TradingAgent(Agent):
    """Trades volume spikes of AAPL, MSFT and GOOGL within the portfolio's limits."""

    subscription = "type = market_data AND payload.symbol IN ('AAPL', 'MSFT', 'GOOGL')"

    def __init__(self, portfolio: Portfolio) -> None:
        super().__init__(id="trader")
        self.portfolio = portfolio
        self.skipped_while_paused = 0
        self.capped = 0

    def handle(self, event: AgentEvent) -> AgentEvent | None:
        """A ``trade_signal`` for an unpaused volume spike the limits allow, else nothing."""
        quote = event.payload
        symbol, price = str(quote["symbol"]), float(quote["price"])
        previous = self.portfolio.last_prices.get(symbol, price)
        self.portfolio.last_prices[symbol] = price
        if self.portfolio.is_paused(event.timestamp):
            self.skipped_while_paused += 1
            return None
        if not quote["volume"] > SPIKE_FACTOR * quote["avg_volume"]:
            return None
        side = "buy" if price >= previous else "sell"
        qty = self.portfolio.order_size(symbol, side)
        if qty == 0:
            self.capped += 1
            return None
        position = self.portfolio.fill(symbol, side, qty)
        reason = (
            f"volume {quote['volume']} > {SPIKE_FACTOR} x avg {quote['avg_volume']}, "
            f"price {'up' if side == 'buy' else 'down'} from {previous:.2f}"
        )
        payload = {
            "symbol": symbol,
            "side": side,
            "qty": qty,
            "price": price,
            "position": position,
            "reason": reason,
        }
        return event.derive(
            "trade_signal", payload, priority=SIGNAL_PRIORITY, timestamp=event.timestamp
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
                timestamp=event.timestamp,
            )
            for symbol, qty in portfolio.close_all().items()
        ]
    if kind == "market_halt":
        until = event.timestamp + timedelta(seconds=float(event.payload.get("halt_seconds", 60)))
        if portfolio.paused_until is None or until > portfolio.paused_until:
            portfolio.paused_until = until
        payload = {"until": portfolio.paused_until.isoformat(), "reason": message}
        return [event.derive("trading_paused", payload, timestamp=event.timestamp)]
    return []


def build_pipeline(
    data: Path = DATA,
    out_dir: Path | None = None,
    speed: float | None = None,
    kafka_topic: str | None = None,
    kafka: KafkaConfig | None = None,
) -> Pipeline:
    """The trading pipeline over ``data``, writing signals and dead letters to ``out_dir``.

    ``out_dir`` defaults to ``./out/trading``; its previous outputs are removed so each
    run starts fresh. ``speed`` replays at the recorded pace times ``speed`` (None: as
    fast as possible). Events are handled one source record at a time (a high-water
    mark of 1, batches of 1) because the trader and the risk agent share a portfolio:
    with a bigger window the whole file is queued at once and each agent drains its
    own queue on its own schedule, so a halt would no longer pause the quotes after it.

    With ``kafka_topic`` (see `publish_to_kafka`) the session is read from that topic
    instead of the file, and the signals also go to the ``trading_signals`` topic.
    """
    out = out_dir if out_dir is not None else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    for name in (SIGNALS_FILE, DEAD_LETTERS_FILE):
        (out / name).unlink(missing_ok=True)

    pipeline = Pipeline(
        "trading",
        dead_letters=out / DEAD_LETTERS_FILE,
        watermarks=Watermarks(high=1, low=0),
    )
    if kafka_topic is None:
        source: Source = FileSource(
            data,
            name="market",
            speed=speed,
            batch_size=1,
            checkpoint_path=out / "market.checkpoint",
        )
    else:
        source = KafkaSource(
            kafka_topic,
            group_id="trading",
            config=kafka,
            name="market",
            start="earliest",
            window=Watermarks(high=1, low=0),
            batch_size=1,
            stop_when_idle=2.0,
        )
    pipeline.add_source(source)
    portfolio = Portfolio()
    pipeline.add_agent(TradingAgent(portfolio))

    @pipeline.agent("risk", subscription="type = alert AND priority < 3")
    def risk(event: AgentEvent) -> list[AgentEvent]:
        return on_urgent_alert(portfolio, event)

    @pipeline.agent("news", subscription=where_content("volatility") & where_type("news"))
    def news(event: AgentEvent) -> AgentEvent:
        payload = {
            "headline": event.payload.get("headline"),
            "symbols": event.payload.get("symbols", []),
        }
        return event.derive("volatility_warning", payload, priority=4, timestamp=event.timestamp)

    outputs = where(
        "type IN ('trade_signal*', 'position_closed', 'trading_paused', 'volatility_warning')"
    )
    pipeline.add_sink(FileSink(out / SIGNALS_FILE, outputs, name="signals"))
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


def trader_of(pipeline: Pipeline) -> TradingAgent:
    """The pipeline's trading agent (for its counters)."""
    return next(agent for agent in pipeline.agents if isinstance(agent, TradingAgent))


def summary(pipeline: Pipeline, produced: Counter[str]) -> Table:
    """The session's headline numbers."""
    trader = trader_of(pipeline)
    table = Table(title="Trading session")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = (
        ("events in", pipeline.counters.ingested),
        ("trade signals out", produced["trade_signal"]),
        ("positions closed", produced["position_closed"]),
        ("trading paused", produced["trading_paused"]),
        ("volatility warnings", produced["volatility_warning"]),
        ("quotes skipped while paused", trader.skipped_while_paused),
        ("spikes capped by position limit", trader.capped),
        ("dead letters", pipeline.counters.dead_letters),
    )
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def stats_table(pipeline: Pipeline) -> Table:
    """`Pipeline.stats` as a rich table, without the columns that are 0 after a run."""
    header, *rows = pipeline.stats().rows()
    keep = [i for i, title in enumerate(header) if title not in IDLE_COLUMNS]
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


if __name__ == "__main__":
    main()
