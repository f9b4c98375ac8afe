"""The trading example against its recorded session, checked with plain JSON reading.

Expectations come from ``examples/data/market.jsonl`` read with `json` (one-second
windows per symbol, spikes, halts, ten-second alert windows, news mentioning
volatility), never from reagents filters, flows or the example's own helpers, so the
pipeline's routing, windows and the agents' logic are checked from the outside.

The reference walk replays the trader and the risk agent in the order the pipeline
hands them their inputs, derived from event time: a symbol-second window closes when
the first traded quote at or after its end arrives (the vwap flow's watermark is the
newest quote timestamp), or at the end of the input; the trader sees it after every
alert before that quote and before every alert after it.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from reagents.events import AgentEvent
from reagents.pipelines.pipeline import Pipeline
from tests.examples import EXAMPLES, load_example

pytestmark = pytest.mark.integration

DATA = EXAMPLES / "data" / "market.jsonl"
GENERATOR = EXAMPLES / "data" / "generate_market.py"
TRADED = ("AAPL", "MSFT", "GOOGL")
LIMIT = 300
LOT = 100

Event = dict[str, Any]


trading = load_example("trading")


def read_jsonl(path: Path) -> list[Event]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def at(event: Event) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


def is_urgent(event: Event, kind: str | None = None) -> bool:
    return bool(
        event["event_type"] == "alert"
        and event["priority"] < 3
        and (kind is None or event["payload"]["type"] == kind)
    )


def is_traded_quote(event: Event) -> bool:
    return event["event_type"] == "market_data" and event["payload"]["symbol"] in TRADED


def mentions_volatility(event: Event) -> bool:
    news = event["payload"]
    return "volatility" in f"{news['headline']} {news['text']}".lower()


def second_of(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def ten_seconds_of(moment: datetime) -> datetime:
    return moment.replace(second=moment.second // 10 * 10, microsecond=0)


SOURCE = read_jsonl(DATA)
BY_ID = {event["event_id"]: event for event in SOURCE}
HALTS = [
    (at(e), at(e) + timedelta(seconds=e["payload"]["halt_seconds"]))
    for e in SOURCE
    if is_urgent(e, "market_halt")
]


@dataclass
class Window:
    """One symbol's quotes of one second, as the reference expects the vwap agent to see."""

    symbol: str
    start: datetime
    quotes: list[Event] = field(default_factory=list)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=1)

    @property
    def volume(self) -> int:
        return sum(q["payload"]["volume"] for q in self.quotes)

    @property
    def vwap(self) -> float:
        turnover = sum(
            Fraction(str(q["payload"]["price"])) * q["payload"]["volume"] for q in self.quotes
        )
        return round(float(turnover / self.volume), 4)

    @property
    def spike(self) -> bool:
        """Volume above 1.5 x the sum of the quotes' avg_volume, in exact integers."""
        expected = sum(int(q["payload"]["avg_volume"]) for q in self.quotes)
        assert 2 * self.volume != 3 * expected, "a tie would make the float rule ambiguous"
        return 2 * self.volume > 3 * expected

    @property
    def halted(self) -> bool:
        return any(start < self.end and self.start < end for start, end in HALTS)

    def expected_payload(self) -> Event:
        avg = [q["payload"]["avg_volume"] for q in self.quotes]
        return {
            "symbol": self.symbol,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "vwap": self.vwap,
            "volume": self.volume,
            "avg_volume": sum(avg) / len(avg),
            "quotes": len(self.quotes),
            "last_price": self.quotes[-1]["payload"]["price"],
        }


def trader_inputs() -> Iterator[Window | Event]:
    """Windows and urgent alerts in the order the trader and the risk agent handle them."""
    open_windows: dict[str, Window] = {}
    for event in SOURCE:
        if is_urgent(event):
            yield event
        if not is_traded_quote(event):
            continue
        # This quote moves the watermark: the windows it passes close, oldest-opened first.
        for symbol, window in list(open_windows.items()):
            if window.end <= at(event):
                yield open_windows.pop(symbol)
        symbol = event["payload"]["symbol"]
        window = open_windows.setdefault(symbol, Window(symbol, second_of(at(event))))
        window.quotes.append(event)
    yield from open_windows.values()  # the end of the input flushes the rest


WINDOWS = [item for item in trader_inputs() if isinstance(item, Window)]
TRADED_QUOTES = [e for e in SOURCE if is_traded_quote(e)]


@dataclass
class Expected:
    """What the reference walk expects the trader and the risk agent to do."""

    signals: dict[tuple[str, str], Event] = field(default_factory=dict)  # by window
    closes: dict[str, list[Event]] = field(default_factory=dict)  # by alert id
    capped: int = 0
    skipped: int = 0


def walk() -> Expected:
    expected = Expected()
    positions: dict[str, int] = {}
    last_vwap: dict[str, float] = {}
    last_price: dict[str, float] = {}
    for item in trader_inputs():
        if not isinstance(item, Window):
            if is_urgent(item, "risk_limit_exceeded"):
                expected.closes[item["event_id"]] = [
                    {
                        "symbol": symbol,
                        "side": "sell" if qty > 0 else "buy",
                        "qty": abs(qty),
                        "price": last_price[symbol],
                    }
                    for symbol, qty in sorted(positions.items())
                    if qty
                ]
                positions.clear()
            continue
        symbol, vwap = item.symbol, item.vwap
        previous = last_vwap.get(symbol, vwap)
        last_vwap[symbol] = vwap
        last_price[symbol] = item.quotes[-1]["payload"]["price"]
        if item.halted:
            expected.skipped += 1
            continue
        if not item.spike:
            continue
        side = "buy" if vwap >= previous else "sell"
        held = positions.get(symbol, 0)
        room = LIMIT - held if side == "buy" else LIMIT + held
        if room <= 0:
            expected.capped += 1
            continue
        qty = min(LOT, room)
        positions[symbol] = held + (qty if side == "buy" else -qty)
        assert abs(positions[symbol]) <= LIMIT
        expected.signals[(symbol, item.start.isoformat())] = {
            "symbol": symbol,
            "side": side,
            "qty": qty,
            "price": vwap,
            "position": positions[symbol],
        }
    return expected


EXPECTED = walk()


def alert_windows() -> dict[datetime, list[Event]]:
    """The session's alerts by ten-second window of their timestamps."""
    windows: dict[datetime, list[Event]] = {}
    for event in SOURCE:
        if event["event_type"] == "alert":
            windows.setdefault(ten_seconds_of(at(event)), []).append(event)
    return windows


@dataclass
class Run:
    pipeline: Pipeline
    out: Path
    outputs: list[Event]
    windows: list[Event]

    def of_type(self, event_type: str) -> list[Event]:
        return [e for e in self.outputs if e["event_type"] == event_type]


async def run_example(out: Path) -> Run:
    pipeline = trading.build_pipeline(out_dir=out)
    await pipeline.run()
    return Run(pipeline, out, read_jsonl(out / "signals.jsonl"), read_jsonl(out / "vwap.jsonl"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Run]:
    yield await run_example(tmp_path_factory.mktemp("trading"))


def test_session_exercises_every_rule() -> None:
    types = {e["event_type"] for e in SOURCE}
    assert {"market_data", "news", "alert", "order_update"} <= types
    assert all(at(a) <= at(b) for a, b in itertools.pairwise(SOURCE))
    assert any(e["event_type"] == "market_data" and not is_traded_quote(e) for e in SOURCE)
    assert any(len(w.quotes) > 1 for w in WINDOWS), "some windows gather several quotes"
    assert any(w.spike and w.halted for w in WINDOWS), "some spikes fall into a halt"
    # a window judged as a whole differs from judging its quotes one by one
    assert any(
        w.spike
        != any(2 * q["payload"]["volume"] > 3 * q["payload"]["avg_volume"] for q in w.quotes)
        for w in WINDOWS
    )
    assert sum(is_urgent(e, "risk_limit_exceeded") for e in SOURCE) == 2
    assert len(HALTS) == 2
    assert any(e["event_type"] == "alert" and e["priority"] > 5 for e in SOURCE)
    assert any(len(alerts) > 1 for alerts in alert_windows().values())


def test_one_vwap_event_per_symbol_second(run: Run) -> None:
    expected = {(w.symbol, w.start.isoformat()): w for w in WINDOWS}
    assert len(expected) == len(WINDOWS)  # a symbol-second is one window, never split
    got = {(e["payload"]["symbol"], e["payload"]["start"]): e for e in run.windows}
    assert got.keys() == expected.keys()
    for key, event in got.items():
        window = expected[key]
        assert event["payload"] == window.expected_payload()
        assert at(event) == window.end
        assert event["source_agent"] == "vwap"
        assert event["causation_id"] == window.quotes[-1]["event_id"]  # the window's last quote


def test_windows_reach_the_trader_in_event_time_order(run: Run) -> None:
    """The vwap events come out in the order the reference closes the windows."""
    order = [(e["payload"]["symbol"], e["payload"]["start"]) for e in run.windows]
    assert order == [(w.symbol, w.start.isoformat()) for w in WINDOWS]


def test_the_vwap_agent_is_called_once_per_window(run: Run) -> None:
    vwap = run.pipeline.stats()["vwap"]
    assert vwap.received == len(TRADED_QUOTES)
    assert vwap.processed == len(WINDOWS) < len(TRADED_QUOTES)
    assert run.pipeline.stats()["trader"].received == len(WINDOWS)


def test_trader_signals_replay_the_reference_walk(run: Run) -> None:
    windows = {e["event_id"]: e for e in run.windows}
    got: dict[tuple[str, str], Event] = {}
    for signal in run.of_type("trade_signal"):
        window = windows[signal["causation_id"]]["payload"]
        payload = {k: signal["payload"][k] for k in ("symbol", "side", "qty", "price", "position")}
        got[(window["symbol"], window["start"])] = payload
    assert got == EXPECTED.signals
    trader = trading.trader_of(run.pipeline)
    assert (trader.capped, trader.skipped_while_paused) == (EXPECTED.capped, EXPECTED.skipped)


def test_signals_point_at_their_window_and_respect_limits_and_halts(run: Run) -> None:
    """Properties that hold whatever the order: cause, price, limits, halts."""
    windows = {e["event_id"]: e for e in run.windows}
    for signal in sorted(run.of_type("trade_signal"), key=at):
        window = windows[signal["causation_id"]]
        start, end = (datetime.fromisoformat(window["payload"][k]) for k in ("start", "end"))
        payload = signal["payload"]
        assert window["event_type"] == "vwap"
        assert payload["symbol"] == window["payload"]["symbol"] in TRADED
        assert payload["price"] == window["payload"]["vwap"]
        assert "VWAP" in payload["reason"]
        assert at(signal) == end
        assert not any(h_start < end and start < h_end for h_start, h_end in HALTS)
        assert signal["correlation_id"] == window["correlation_id"]
        assert signal["priority"] == 3
        assert signal["source_agent"] == "trader"
        assert abs(payload["position"]) <= LIMIT
        assert payload["qty"] in range(1, LOT + 1)


def test_risk_closes_every_open_position_at_the_last_price(run: Run) -> None:
    closes: dict[str, list[Event]] = {}
    for close in run.of_type("position_closed"):
        payload = {k: close["payload"][k] for k in ("symbol", "side", "qty", "price")}
        closes.setdefault(close["causation_id"], []).append(payload)
        assert is_urgent(BY_ID[close["causation_id"]], "risk_limit_exceeded")
    assert closes == {k: v for k, v in EXPECTED.closes.items() if v}
    assert all(EXPECTED.closes.values()), "each risk alert found positions to close"


def test_market_halts_pause_trading(run: Run) -> None:
    pauses = run.of_type("trading_paused")
    halts = [e for e in SOURCE if is_urgent(e, "market_halt")]
    assert [p["causation_id"] for p in pauses] == [h["event_id"] for h in halts]
    for pause, (_, end) in zip(pauses, HALTS, strict=True):
        assert datetime.fromisoformat(pause["payload"]["until"]) == end
    skipped = sum(1 for w in WINDOWS if w.halted)
    assert trading.trader_of(run.pipeline).skipped_while_paused == skipped > 0


def test_a_window_that_overlaps_a_halt_is_not_traded() -> None:
    """The rule at the halt's edges, where the session has no spike: any overlap skips."""
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    portfolio = trading.Portfolio()
    portfolio.halt(t0 + timedelta(seconds=10.5), t0 + timedelta(seconds=20.5))
    trader = trading.TradingAgent(portfolio)

    def spike(second: int) -> AgentEvent:
        start = t0 + timedelta(seconds=second)
        end = start + timedelta(seconds=1)
        window = {
            "symbol": "AAPL",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "vwap": 100.0,
            "volume": 400,
            "avg_volume": 100.0,
            "quotes": 2,
            "last_price": 100.0,
        }
        return AgentEvent(event_type="vwap", payload=window, timestamp=end)

    traded = {second: trader.handle(spike(second)) is not None for second in (9, 10, 20, 21)}
    # [10, 11) holds the halt's start, [20, 21) its end: both overlap it
    assert traded == {9: True, 10: False, 20: False, 21: True}
    assert trader.skipped_while_paused == 2


def test_alert_digest_gets_one_batch_per_ten_second_window(run: Run) -> None:
    windows = alert_windows()
    assert run.pipeline.stats()["alert_digest"].processed == len(windows)
    digests = {
        datetime.fromisoformat(d["payload"]["start"]): d for d in run.of_type("alert_digest")
    }
    assert digests.keys() == windows.keys()
    for start, alerts in windows.items():
        digest = digests[start]
        assert digest["payload"] == {
            "start": start.isoformat(),
            "end": (start + timedelta(seconds=10)).isoformat(),
            "count": len(alerts),
            "by_type": dict(sorted(Counter(a["payload"]["type"] for a in alerts).items())),
            "most_urgent": min(a["priority"] for a in alerts),
        }
        assert at(digest) == start + timedelta(seconds=10)
        assert digest["causation_id"] == alerts[-1]["event_id"]
        assert digest["source_agent"] == "alert_digest"


def test_volatility_news_becomes_warnings(run: Run) -> None:
    warnings = run.of_type("volatility_warning")
    volatile_news = [e for e in SOURCE if e["event_type"] == "news" and mentions_volatility(e)]
    assert [w["causation_id"] for w in warnings] == [e["event_id"] for e in volatile_news]
    assert any(
        e["event_type"] == "alert" and "volatility" in e["payload"]["message"].lower()
        for e in SOURCE
    ), "the session should also hold non-news events about volatility"


def test_flows_hold_far_fewer_records_than_the_watermarks() -> None:
    """Windows keep records in flight: the sources must never pause on them.

    Each flow's watermark is the newest timestamp of its own input; after each record,
    count what the still-open windows hold.
    """
    open_windows: dict[tuple[str, datetime], int] = {}  # (flow, window start): records
    sizes = {"quotes": timedelta(seconds=1), "alerts": timedelta(seconds=10)}
    most = 0
    for event in SOURCE:
        if is_traded_quote(event):
            flow, start = "quotes", second_of(at(event))
        elif event["event_type"] == "alert":
            flow, start = "alerts", ten_seconds_of(at(event))
        else:
            continue
        for key in [k for k in open_windows if k[0] == flow and k[1] + sizes[flow] <= at(event)]:
            del open_windows[key]
        open_windows[(flow, start)] = open_windows.get((flow, start), 0) + 1
        most = max(most, sum(open_windows.values()))
    assert most * 2 < trading.WATERMARKS.low


def test_nothing_is_dead_lettered(run: Run) -> None:
    assert run.pipeline.counters.dead_letters == 0
    assert not (run.out / "dead_letters.jsonl").exists()
    assert all(s.failed == 0 for s in run.pipeline.stats().values())


def test_counts_for_the_committed_session(run: Run) -> None:
    """Golden numbers: regenerate the data and these change (with the determinism test)."""
    types = (
        "trade_signal",
        "position_closed",
        "trading_paused",
        "volatility_warning",
        "alert_digest",
    )
    counts = {t: len(run.of_type(t)) for t in types}
    assert run.pipeline.counters.ingested == len(SOURCE) == 3000
    assert len(run.windows) == 1080
    assert counts == {
        "trade_signal": 67,
        "position_closed": 4,
        "trading_paused": 2,
        "volatility_warning": 63,
        "alert_digest": 67,
    }


async def test_runs_write_the_same_bytes(run: Run, tmp_path: Path) -> None:
    again = await run_example(tmp_path)
    for name in ("signals.jsonl", "vwap.jsonl"):
        assert (again.out / name).read_bytes() == (run.out / name).read_bytes()
    assert all(uuid.UUID(e["event_id"]).version == 5 for e in again.outputs)


def generate(out: Path, *args: str) -> bytes:
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(out), *args], check=True, timeout=60
    )
    return out.read_bytes()


def test_generator_is_deterministic(tmp_path: Path) -> None:
    first = generate(tmp_path / "a.jsonl")
    assert generate(tmp_path / "b.jsonl") == first
    assert first == DATA.read_bytes()
    other = generate(tmp_path / "c.jsonl", "--seed", "8", "--events", "200")
    assert len(other.splitlines()) == 200
    assert other.splitlines()[0] != first.splitlines()[0]


def test_order_updates_are_booked_and_fills_come_out(run: Run) -> None:
    """The OMS's ``order_update``s (the article's ``process_order_update``) are handled:
    every order is booked in its last status, and each fill is one ``order_filled``."""
    updates = [e for e in SOURCE if e["event_type"] == "order_update"]
    assert run.pipeline.stats()["orders"].received == len(updates) > 0
    fills = read_jsonl(run.out / "orders.jsonl")
    expected = [u for u in updates if u["payload"]["filled_qty"] > 0]
    assert [f["causation_id"] for f in fills] == [u["event_id"] for u in expected]
    for fill, update in zip(fills, expected, strict=True):
        assert fill["event_type"] == "order_filled"
        assert fill["payload"]["qty"] == update["payload"]["filled_qty"]
        assert fill["payload"]["order_id"] == update["payload"]["order_id"]
        assert fill["payload"]["status"] in ("filled", "partially_filled")
    statuses = Counter(u["payload"]["status"] for u in updates)
    assert {"new", "cancelled", "filled", "partially_filled"} <= statuses.keys()


async def test_a_second_run_replays_the_whole_session_and_keeps_no_checkpoint(
    run: Run, tmp_path: Path
) -> None:
    """No checkpoint is written (a resumed run would trade from an empty portfolio), so
    running again in the same folder replays everything and rewrites the same outputs."""
    first = await run_example(tmp_path)
    second = await run_example(tmp_path)
    assert second.pipeline.counters.ingested == first.pipeline.counters.ingested == 3000
    for name in ("signals.jsonl", "vwap.jsonl", "orders.jsonl"):
        assert (tmp_path / name).read_bytes() == (run.out / name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "orders.jsonl",
        "signals.jsonl",
        "vwap.jsonl",
    ]
    assert not list(DATA.parent.glob("*.checkpoint"))
