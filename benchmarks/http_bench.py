"""``POST /events`` throughput and latency next to a bare FastAPI endpoint (the ceiling).

    python benchmarks/http_bench.py [--rounds K] [--seconds S] [--connections C]
                                    [--client raw|httpx] [--high H]

Starts a server process (uvicorn, as ``reagents serve`` runs it, one pipeline whose
agent notes when each event reached it) and loads it from this process with httpx over
C keep-alive connections, in interleaved rounds of S seconds: the bare endpoint
(``POST /noop``: reads the body, answers 202) with one event a request, then
``POST /events`` with one event, then both with batches of 100. Rows show min, median
and max over the rounds of accepted events/s, the ratio to that round's ceiling, the
server's CPU per event (its user+system time; the client shares the 2 cores, so with
a CPU-bound client this is the fairer cost) and the p99 latency from sending the POST
to the agent's start (both processes read the same monotonic clock). Nothing here is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from rich import box
from rich.console import Console
from rich.table import Table

from reagents import AgentEvent, Pipeline
from reagents.policies import Watermarks
from reagents.server import ServerSettings, create_app
from reagents.server.running import uvicorn_server

BATCH = 100
TICKS = os.sysconf("SC_CLK_TCK")


def serve(port: int, high: int) -> None:
    """The server process: a pipeline with a timing agent, ``/noop`` and ``/_bench``."""
    latencies: list[float] = []
    pipeline = Pipeline("bench", watermarks=Watermarks(high=high, low=high // 2))

    @pipeline.agent(id="timer")
    def timer(event: AgentEvent) -> None:
        latencies.append(time.monotonic() - event.payload["t"])

    bench = APIRouter()

    @bench.post("/noop")
    async def noop(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({}, status_code=202)

    @bench.get("/_bench/latencies")
    async def taken() -> list[float]:
        await pipeline.wait_idle()
        out = latencies[:]
        latencies.clear()
        return out

    settings = ServerSettings(port=port, rate_limit=None)
    app = create_app(pipeline, settings)
    app.include_router(bench)
    asyncio.run(uvicorn_server(app, settings).serve())


def single() -> bytes:
    return b'{"event_type":"bench","payload":{"t":%r}}' % time.monotonic()


def batch() -> bytes:
    item = b'{"event_type":"bench","payload":{"t":%r}}' % time.monotonic()
    return b"[" + b",".join([item] * BATCH) + b"]"


@dataclass
class Row:
    """One case's figures over the rounds."""

    label: str
    path: str
    body: Callable[[], bytes]
    events: int
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class RawClient:
    """Keep-alive HTTP/1.1 over asyncio streams: ~30 µs of CPU a request where httpx
    takes ~1.6 ms on these machines (it would measure itself, not the server)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self, count: int) -> None:
        for _ in range(count):
            self.streams.append(await asyncio.open_connection("127.0.0.1", self.port))

    async def close(self) -> None:
        for _, writer in self.streams:
            writer.close()
            await writer.wait_closed()

    @staticmethod
    async def post(
        stream: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str, body: bytes
    ) -> int:
        reader, writer = stream
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        return int(head[9:12])


async def load(
    client: httpx.AsyncClient | RawClient, row: Row, seconds: float, connections: int
) -> int:
    """Post ``row``'s bodies over ``connections`` for ``seconds``; events accepted."""
    accepted = 0
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        nonlocal accepted
        while time.perf_counter() < deadline:
            if isinstance(client, RawClient):
                status = await client.post(client.streams[index], row.path, row.body())
            else:
                status = (await client.post(row.path, content=row.body())).status_code
            row.statuses[status] += 1
            if status == 202:
                accepted += row.events

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return accepted


async def measure(
    client: httpx.AsyncClient | RawClient,
    admin: httpx.AsyncClient,
    pid: int,
    row: Row,
    seconds: float,
    connections: int,
) -> float:
    """One timed run of ``row``; records its figures and returns its events/s."""
    cpu = server_cpu(pid)
    started = time.perf_counter()
    accepted = await load(client, row, seconds, connections)
    rate = accepted / (time.perf_counter() - started)
    row.cpu_us.append((server_cpu(pid) - cpu) / max(accepted, 1) * 1e6)
    latencies = (await admin.get("/_bench/latencies", timeout=60)).json()
    if latencies:
        row.p99_ms.append(statistics.quantiles(latencies, n=100)[98] * 1e3)
    row.rates.append(rate)
    return rate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def started(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(200):
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the server did not start")


async def bench(pid: int, port: int, args: argparse.Namespace) -> list[Row]:
    pairs = [
        (Row("bare 1/req", "/noop", single, 1),
         Row("/events 1/req", "/events", single, 1)),
        (Row(f"bare {BATCH}/req", "/noop", batch, BATCH),
         Row(f"/events {BATCH}/req", "/events", batch, BATCH)),
    ]  # fmt: skip
    url, connections = f"http://127.0.0.1:{port}", args.connections
    await started(url)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    raw = RawClient(port)
    await raw.open(connections)
    async with (
        httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client,
        httpx.AsyncClient(base_url=url, timeout=60) as admin,
    ):
        load_with = raw if args.client == "raw" else client
        for ceiling, ours in pairs:  # warm up, not counted
            for row in (ceiling, ours):
                await load(load_with, row, 1.0, connections)
                await admin.get("/_bench/latencies")
                row.statuses.clear()
        for _ in range(args.rounds):
            for ceiling, ours in pairs:
                timed = (load_with, admin, pid)
                top = await measure(*timed, ceiling, args.seconds, connections)
                ceiling.ratios.append(1.0)
                rate = await measure(*timed, ours, args.seconds, connections)
                ours.ratios.append(rate / top)
    await raw.close()
    return [row for pair in pairs for row in pair]


def spread(values: list[float], fmt: str) -> str:
    """``min/median/max`` of ``values`` (``-`` when there are none)."""
    if not values:
        return "-"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:{fmt}}/{mid:{fmt}}/{high:{fmt}}"


def report(rows: list[Row], args: argparse.Namespace) -> None:
    console = Console(width=80)
    title = (
        f"{args.rounds} rounds of {args.seconds:g} s, {args.connections} connections "
        f"({args.client} client, high {args.high}): min/med/max"
    )
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("what", "k events/s", "x ceiling", "srv µs/ev", "p99 ms"):
        table.add_column(column, justify="left" if column == "what" else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.label,
            spread([r / 1e3 for r in row.rates], ".3g"),
            spread(row.ratios, ".2f"),
            f"{statistics.median(row.cpu_us):.0f}",
            spread(row.p99_ms, ".0f"),
        )
    console.print(table)
    refused = {r.label: r.statuses for r in rows if set(r.statuses) - {202}}
    console.print(f"answers other than 202: {refused or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--high", type=int, default=1000, help="the pipeline's high watermark")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.high)
        return
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--high", str(args.high)]
    )
    try:
        rows = asyncio.run(bench(server.pid, port, args))
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(rows, args)


if __name__ == "__main__":
    main()
