"""The trading example against its recorded session, checked with plain JSON reading.

Expectations come from ``examples/data/market.jsonl`` read with `json` (spikes,
halt windows, news mentioning volatility), never from running reagents filters, so
the pipeline's routing and the agents' logic are checked from the outside.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from reagents.pipelines.pipeline import Pipeline
from tests.examples import EXAMPLES, load_example

pytestmark = pytest.mark.integration

DATA = EXAMPLES / "data" / "market.jsonl"
GENERATOR = EXAMPLES / "data" / "generate_market.py"
TRADED = {"AAPL", "MSFT", "GOOGL"}
LIMIT = 300

Event = dict[str, Any]


trading = load_example("trading")


def read_jsonl(path: Path) -> list[Event]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def at(event: Event) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


def is_urgent(event: Event, kind: str) -> bool:
    return bool(
        event["event_type"] == "alert"
        and event["priority"] < 3
        and event["payload"]["type"] == kind
    )


def is_spike(event: Event) -> bool:
    quote = event["payload"]
    return bool(
        event["event_type"] == "market_data" and quote["volume"] > 1.5 * quote["avg_volume"]
    )


def mentions_volatility(event: Event) -> bool:
    news = event["payload"]
    return "volatility" in f"{news['headline']} {news['text']}".lower()


@dataclass
class Run:
    pipeline: Pipeline
    out: Path
    outputs: list[Event]

    def of_type(self, event_type: str) -> list[Event]:
        return [e for e in self.outputs if e["event_type"] == event_type]


SOURCE = read_jsonl(DATA)
BY_ID = {event["event_id"]: event for event in SOURCE}
HALTS = [
    (at(e), at(e) + timedelta(seconds=e["payload"]["halt_seconds"]))
    for e in SOURCE
    if is_urgent(e, "market_halt")
]


def paused(event: Event) -> bool:
    return any(start <= at(event) < end for start, end in HALTS)


TRADED_SPIKES = [e for e in SOURCE if is_spike(e) and e["payload"]["symbol"] in TRADED]
UNPAUSED_SPIKES = [e for e in TRADED_SPIKES if not paused(e)]


async def run_example(out: Path) -> Run:
    pipeline = trading.build_pipeline(out_dir=out)
    await pipeline.run()
    return Run(pipeline, out, read_jsonl(out / "signals.jsonl"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Run]:
    yield await run_example(tmp_path_factory.mktemp("trading"))


def test_session_exercises_every_rule() -> None:
    types = {e["event_type"] for e in SOURCE}
    assert {"market_data", "news", "alert", "order_update"} <= types
    assert all(at(a) <= at(b) for a, b in itertools.pairwise(SOURCE))
    assert any(is_spike(e) and e["payload"]["symbol"] not in TRADED for e in SOURCE)
    assert any(paused(e) for e in TRADED_SPIKES)
    assert sum(is_urgent(e, "risk_limit_exceeded") for e in SOURCE) == 2
    assert len(HALTS) == 2
    assert any(e["event_type"] == "alert" and e["priority"] > 5 for e in SOURCE)


def test_every_unpaused_spike_is_traded_or_capped(run: Run) -> None:
    signals = run.of_type("trade_signal")
    trader = trading.trader_of(run.pipeline)
    caused = [s["causation_id"] for s in signals]
    assert len(set(caused)) == len(caused)
    assert set(caused) <= {e["event_id"] for e in UNPAUSED_SPIKES}
    assert len(signals) + trader.capped == len(UNPAUSED_SPIKES)


def test_signals_only_for_traded_symbols_and_point_at_their_quote(run: Run) -> None:
    for signal in run.of_type("trade_signal"):
        quote = BY_ID[signal["causation_id"]]
        assert quote["event_type"] == "market_data"
        assert signal["correlation_id"] == quote["event_id"]
        assert signal["payload"]["symbol"] == quote["payload"]["symbol"]
        assert signal["payload"]["symbol"] in TRADED
        assert signal["payload"]["price"] == quote["payload"]["price"]
        assert signal["priority"] == 3
        assert signal["source_agent"] == "trader"


def test_positions_follow_prices_limits_and_risk_closes(run: Run) -> None:
    """Walk the session in file order, book the emitted signals and check each step."""
    signals = {s["causation_id"]: s["payload"] for s in run.of_type("trade_signal")}
    closes: dict[str, list[Event]] = {}
    for close in run.of_type("position_closed"):
        closes.setdefault(close["causation_id"], []).append(close["payload"])
    positions: dict[str, int] = {}
    last_price: dict[str, float] = {}
    capped = 0
    for event in SOURCE:
        if is_urgent(event, "risk_limit_exceeded"):
            expected = [
                {"symbol": sym, "side": "sell" if qty > 0 else "buy", "qty": abs(qty)}
                for sym, qty in sorted(positions.items())
                if qty
            ]
            closed = closes.pop(event["event_id"], [])
            got = [{k: c[k] for k in ("symbol", "side", "qty")} for c in closed]
            assert got == expected
            positions.clear()
        if event["event_type"] != "market_data" or event["payload"]["symbol"] not in TRADED:
            continue
        symbol, price = event["payload"]["symbol"], event["payload"]["price"]
        previous = last_price.get(symbol, price)
        last_price[symbol] = price
        if not is_spike(event) or paused(event):
            assert event["event_id"] not in signals
            continue
        side = "buy" if price >= previous else "sell"
        held = positions.get(symbol, 0)
        signal = signals.get(event["event_id"])
        if signal is None:  # only a position at the limit blocks a trade
            assert held == (LIMIT if side == "buy" else -LIMIT)
            capped += 1
            continue
        assert signal["side"] == side
        positions[symbol] = held + (signal["qty"] if side == "buy" else -signal["qty"])
        assert signal["position"] == positions[symbol]
        assert abs(positions[symbol]) <= LIMIT
    assert closes == {}
    assert capped == trading.trader_of(run.pipeline).capped


def test_market_halts_pause_trading(run: Run) -> None:
    pauses = run.of_type("trading_paused")
    halts = [e for e in SOURCE if is_urgent(e, "market_halt")]
    assert [p["causation_id"] for p in pauses] == [h["event_id"] for h in halts]
    for pause, (_, end) in zip(pauses, HALTS, strict=True):
        assert datetime.fromisoformat(pause["payload"]["until"]) == end
    skipped = sum(
        1
        for e in SOURCE
        if e["event_type"] == "market_data" and e["payload"]["symbol"] in TRADED and paused(e)
    )
    assert trading.trader_of(run.pipeline).skipped_while_paused == skipped


def test_volatility_news_becomes_warnings(run: Run) -> None:
    warnings = run.of_type("volatility_warning")
    volatile_news = [e for e in SOURCE if e["event_type"] == "news" and mentions_volatility(e)]
    assert [w["causation_id"] for w in warnings] == [e["event_id"] for e in volatile_news]
    assert any(
        e["event_type"] == "alert" and "volatility" in e["payload"]["message"].lower()
        for e in SOURCE
    ), "the session should also hold non-news events about volatility"


def test_nothing_is_dead_lettered(run: Run) -> None:
    assert run.pipeline.counters.dead_letters == 0
    assert not (run.out / "dead_letters.jsonl").exists()
    assert all(s.failed == 0 for s in run.pipeline.stats().values())


def test_counts_for_the_committed_session(run: Run) -> None:
    """Golden numbers: regenerate the data and these change (with the determinism test)."""
    types = ("trade_signal", "position_closed", "trading_paused", "volatility_warning")
    counts = {t: len(run.of_type(t)) for t in types}
    assert run.pipeline.counters.ingested == len(SOURCE) == 3000
    assert counts == {
        "trade_signal": 74,
        "position_closed": 4,
        "trading_paused": 2,
        "volatility_warning": 63,
    }


async def test_runs_are_reproducible(run: Run, tmp_path: Path) -> None:
    again = await run_example(tmp_path)

    def essence(events: list[Event]) -> list[tuple[Any, ...]]:
        return [
            (e["event_type"], e["causation_id"], e["timestamp"], json.dumps(e["payload"]))
            for e in events
        ]

    assert essence(again.outputs) == essence(run.outputs)


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
