"""`FileSource`: replay (or tail) a JSONL event log, checkpointing what was acked.

Each non-blank line becomes one record: an `AgentEvent`, or a decode `DeadLetter`
naming ``file:line`` (a line whose route nobody in the pipeline wants is acked
unread). A line may also be a dead letter (any dead-letter log replays): its event is
replayed with ``retry_count`` reset, its raw bytes are decoded again. The checkpoint
is the byte offset after the contiguous acked prefix of lines, so a restart from it
re-reads only what was not fully handled (at-least-once). Reading pauses while
``window.high`` lines past the oldest unacknowledged one are read but not all
acknowledged, so a crash re-delivers at most ``window.high + checkpoint_every``
lines, however long one event waits (behind more urgent ones, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

from reagents.dead_letter import DeadLetter
from reagents.delivery import Incoming, OrderedAcks, ack_runs, noop_ack
from reagents.errors import check_positive
from reagents.events import AgentEvent, as_utc, decode_event, read_route
from reagents.policies import Watermarks
from reagents.sources._jsonl import (
    Checkpoint,
    CheckpointError,
    Decoder,
    LineReader,
    check_size,
    check_start,
    decode_line,
    end_of_complete_lines,
    read_checkpoint,
    write_checkpoint,
)
from reagents.sources.base import Source, Wants

__all__ = ["Checkpoint", "CheckpointError", "FileSource", "read_checkpoint"]

Start = Literal["beginning", "checkpoint", "end"]

logger = logging.getLogger(__name__)

_STUCK_AFTER = 60.0  # seconds the window may stay full before a warning
_LOOK = 0.02  # seconds between looks at `flows_wait` while the window is full


class FileSource(Source):
    """Events from a JSONL file, in file order, as fast as possible or at recorded pace.

    * ``start``: ``"beginning"``, ``"checkpoint"`` (resume; the beginning if there is
      none) or ``"end"`` (only lines appended from now on, with ``follow``).
    * ``since``: skip events older than this (skipped lines count as acked).
    * ``speed``: None for as fast as possible; ``x`` replays at the pace of the event
      timestamps times ``x``, relative to the first emitted event.
    * ``follow``: keep polling for appended lines until `stop` / `close`.
    * ``window``: pause at ``high`` lines read past the oldest unacknowledged line,
      resume at ``low`` (the redelivery bound; 1,000 / 500 by default).
    * ``checkpoint``: False writes none (a log replayed whole every run).

    The checkpoint (``<path>.checkpoint`` by default) is rewritten atomically every
    ``checkpoint_every`` acked lines and on `close`. ``sleep`` and ``clock`` are
    injectable so pacing and polling can be tested without waiting.

    Raises:
        FileNotFoundError: at construction, when ``path`` does not exist.
        CheckpointError: at construction (``start="checkpoint"``) or while following,
            when the file is shorter than the position reached.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        start: Start = "beginning",
        since: datetime | None = None,
        speed: float | None = None,
        follow: bool = False,
        poll_interval: float = 0.2,
        checkpoint_path: Path | None = None,
        checkpoint: bool = True,
        checkpoint_every: int = 1000,
        batch_size: int = 64,
        window: Watermarks | None = None,
        decode: Decoder = decode_event,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            what = "is not a regular file" if self.path.exists() else "does not exist"
            raise FileNotFoundError(f"event log {str(self.path)!r} {what}")
        check_positive(speed=speed, poll_interval=poll_interval)
        check_positive(checkpoint_every=checkpoint_every, batch_size=batch_size)
        if start not in ("beginning", "checkpoint", "end"):
            raise ValueError(f"start must be 'beginning', 'checkpoint' or 'end', got {start!r}")
        if start == "checkpoint" and not checkpoint:
            raise ValueError("start='checkpoint' needs checkpoint=True")
        self._checkpointing = checkpoint
        self._file_name = self.path.name
        self._place = f"{self._file_name}:"  # a line's origin: this and its number
        self.name = name if name is not None else f"file:{self._file_name}"
        self.checkpoint_path = checkpoint_path or Path(f"{self.path}.checkpoint")
        self._since = as_utc(since) if since is not None else None
        self._speed = speed
        self._follow = follow
        self._poll_interval = poll_interval
        self._checkpoint_every = checkpoint_every
        self.batch_size = batch_size
        self.window = window or Watermarks(high=1000, low=500)
        self._room = asyncio.Event()
        self._decode = decode
        self._sleep = sleep
        self._clock = clock
        self._start = self._start_position(start)
        self._saved = self._start
        self._acked: tuple[int, int] = self._start
        self._acks: OrderedAcks[tuple[int, int]] = OrderedAcks(self._on_advance)
        self._reader: LineReader | None = None
        self._file: BinaryIO | None = None
        self._stopped = False
        self._closed = False
        self._pace_origin: tuple[float, datetime] | None = None

    @property
    def total_bytes(self) -> int:
        """The file's current size (with `position`, a progress bar's total)."""
        return self.path.stat().st_size

    @property
    def position(self) -> int:
        """Byte offset after the last line handed out (a progress bar's value)."""
        return self._reader.offset if self._reader is not None else self._start.offset

    @property
    def checkpoint(self) -> Checkpoint:
        """Offset and line count of the contiguous acked prefix."""
        return Checkpoint._make(self._acked)

    def stop(self) -> None:
        """Read no further: `batches` returns at its next batch boundary or poll."""
        self._stopped = True
        self._room.set()

    async def close(self) -> None:
        """Stop, release the file and write the checkpoint of the acked prefix."""
        self.stop()
        self._closed = True
        self._release()
        self._save()

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        """Yield records of up to ``batch_size`` lines; while following, poll for more."""
        self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115  (released in finally)
        try:
            check_start(self.path, self._file, self._start, self.checkpoint_path)
            # Without follow, the file is read as it was when reading began: lines appended
            # meanwhile (say, a dead-letter log replayed into itself) are not read.
            end = None if self._follow else os.fstat(self._file.fileno()).st_size
            reader = self._reader = LineReader(self._file, self._start.offset, end)
            line_no = self._start.line
            paced = self._speed is not None
            while not self._stopped:
                room = self.window.high - len(self._acks)
                if room <= 0:
                    if not await self._wait_for_room():
                        continue
                    room = self.batch_size  # past the window: flows wait for this input
                lines = reader.lines(min(room, self.batch_size), final=not self._follow)
                if not lines:
                    if not self._follow:
                        return
                    check_size(self.path, Checkpoint(reader.read_to, line_no), self.checkpoint_path)
                    await self._sleep(self._poll_interval)
                    continue
                batch: list[Incoming] = []
                wants = None if paced or self._since is not None else self.wanted(self._decode)
                unread: list[int] = []  # acked unread: acked in runs after the batch
                for raw, end in lines:
                    line_no += 1
                    incoming = self._record(raw, end, line_no, wants, unread)
                    if incoming is None:
                        continue
                    if paced and self._pace(incoming.item) > 0:
                        if batch:
                            yield batch
                            batch = []
                        await self._sleep(max(0.0, self._pace(incoming.item)))
                    batch.append(incoming)
                ack_runs(self._acks, unread)
                if batch:
                    yield batch
                else:
                    await asyncio.sleep(0)  # every line was skipped: let others run
        finally:
            self._release()

    async def _wait_for_room(self) -> bool:
        """Wait until the unacknowledged lines are down to ``window.low`` (or `stop`).

        Returns True instead when agents' flows hold every unacknowledged line and wait
        for more input (`flows_wait`): the next batch is read past the window.
        """
        self._room.clear()
        waited = 0.0
        while not self._room.is_set():
            if self.flows_wait is not None and self.flows_wait():
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), _LOOK)
            waited += _LOOK
            if waited >= _STUCK_AFTER > waited - _LOOK:
                logger.warning(
                    "%s: %d lines read but not acknowledged for %.0f s (from line %d): a "
                    "slow agent, or an agent's flow holding them; window=Watermarks(...) "
                    "bounds what a crash re-delivers",
                    *(self.name, len(self._acks), _STUCK_AFTER, self._acked[1] + 1),
                )
        return False

    def _record(
        self, raw: bytes, end: int, line_no: int, wants: Wants | None, unread: list[int]
    ) -> Incoming | None:
        sequence = self._acks.push((end, line_no))
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw or raw.isspace():
            self._acks.ack(sequence)
            return None
        if wants is not None:
            route = read_route(raw)
            if route is not None and not wants(route):  # nobody wants it: acked unread
                unread.append(sequence)
                return None
        item = decode_line(raw, f"{self._file_name}:{line_no}", self._decode)
        if (
            self._since is not None
            and isinstance(item, AgentEvent)
            and item.timestamp < self._since
        ):
            self._acks.ack(sequence)
            return None
        return Incoming(item, noop_ack, self._place, 0, self._acks, sequence, line_no)

    def _pace(self, item: AgentEvent | DeadLetter) -> float:
        """Seconds to wait before emitting ``item`` at the recorded pace."""
        if self._speed is None or not isinstance(item, AgentEvent):
            return 0.0
        if self._pace_origin is None:
            self._pace_origin = (self._clock(), item.timestamp)
            return 0.0
        started, first = self._pace_origin
        due = started + (item.timestamp - first).total_seconds() / self._speed
        return due - self._clock()

    def _start_position(self, start: Start) -> Checkpoint:
        if start == "beginning":
            return Checkpoint(0, 0)
        if start == "checkpoint":
            saved = read_checkpoint(self.checkpoint_path)
            if saved is None:
                return Checkpoint(0, 0)
            check_size(self.path, saved, self.checkpoint_path)
            return saved
        return end_of_complete_lines(self.path)

    def _on_advance(self, position: tuple[int, int]) -> None:
        self._acked = position
        if len(self._acks) <= self.window.low:
            self._room.set()
        if self._closed or position[1] - self._saved.line >= self._checkpoint_every:
            self._save()

    def _save(self) -> None:
        if self._acked != self._saved:
            self._saved = Checkpoint._make(self._acked)
            if self._checkpointing:
                write_checkpoint(self.checkpoint_path, self.path, self._saved)

    def _release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
