"""JSONL file sinks: an append-only event log and a dead-letter log, both replayable.

Every line is one JSON object, so a `FileSource` can replay either file: the event
log as events, the dead-letter log as the events (or raw bytes) that failed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import ValidationError

from reagents.dead_letter import DeadLetter
from reagents.errors import describe_validation_error
from reagents.events import AgentEvent, encode_event
from reagents.operators.filters import Filter
from reagents.sinks.base import DeadLetterSink, Sink
from reagents.sinks.memory import UnsavedDeadLetters

__all__ = [
    "FileSink",
    "JsonlDeadLetterLog",
    "dead_letter_log",
    "read_dead_letters",
]

_log = logging.getLogger(__name__)


def _open_append(path: Path, mode: Literal["ab", "wb"] = "ab") -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, mode)


def _flush(file: BinaryIO, fsync: bool) -> None:
    file.flush()
    if fsync:
        os.fsync(file.fileno())


class FileSink(Sink):
    """Appends each event as one JSON line to ``path`` (created with its parents).

    The file is flushed after every ``flush_every`` writes and on `flush` / `close`;
    with ``fsync`` each flush also reaches the disk. `close` releases the file; a later
    write opens it again (appending).

    With ``fresh`` the sink starts the file over: its first open empties it (at the
    first write, or at `close` if nothing was written), so each run of a pipeline built
    anew writes only its own events, and building one touches no file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        subscription: Filter | str | None = None,
        name: str | None = None,
        *,
        flush_every: int = 1,
        fsync: bool = False,
        fresh: bool = False,
    ) -> None:
        if flush_every < 1:
            raise ValueError(f"flush_every must be >= 1, got {flush_every}")
        self.path = Path(path)
        super().__init__(subscription, name if name is not None else f"file:{self.path.name}")
        self.flush_every = flush_every
        self.fsync = fsync
        self.fresh = fresh
        self._file: BinaryIO | None = None
        self._unflushed = 0

    async def write(self, event: AgentEvent) -> None:
        """Append ``event``; flush when ``flush_every`` writes are pending."""
        if self._file is None:
            self._file = self._open()
        self._file.write(encode_event(event) + b"\n")
        self._unflushed += 1
        if self._unflushed >= self.flush_every:
            self._flush_now()

    async def flush(self) -> None:
        """Flush pending lines (and fsync them if asked)."""
        self._flush_now()

    async def close(self) -> None:
        """Flush and close the file (a ``fresh`` sink that wrote nothing leaves it empty)."""
        self._flush_now()
        if self._file is None and self.fresh:
            self._file = self._open()
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> BinaryIO:
        """Open for appending; the first open of a ``fresh`` sink truncates instead."""
        file = _open_append(self.path, "wb" if self.fresh else "ab")
        self.fresh = False
        return file

    def _flush_now(self) -> None:
        if self._file is not None and self._unflushed:
            _flush(self._file, self.fsync)
        self._unflushed = 0


class JsonlDeadLetterLog(DeadLetterSink):
    """Appends each dead letter as one JSON line to ``path``, flushed at once.

    The file (and its parents) is created on the first dead letter, so a clean run
    leaves nothing behind. Read it back with `read_dead_letters`, or replay it with
    ``FileSource(path)``.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._file: BinaryIO | None = None
        self.written = 0

    def write(self, letter: DeadLetter) -> None:
        """Append ``letter`` and flush (a dead letter is never left in a buffer)."""
        if self._file is None:
            self._file = _open_append(self.path)
        self._file.write(letter.to_json() + b"\n")
        _flush(self._file, self.fsync)
        self.written += 1

    def close(self) -> None:
        """Close the file (a later write opens it again)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def describe(self) -> str:
        """The log's absolute path."""
        return os.path.abspath(self.path)


def dead_letter_log(value: DeadLetterSink | str | os.PathLike[str] | None) -> DeadLetterSink:
    """``value`` if it is a dead-letter sink, else a JSONL log at that path.

    ``None`` (nothing declared) keeps them in memory (`UnsavedDeadLetters`, which warns
    at the first): no file appears in the working directory unasked.
    """
    if isinstance(value, DeadLetterSink):
        return value
    return UnsavedDeadLetters() if value is None else JsonlDeadLetterLog(Path(value))


def read_dead_letters(
    path: str | os.PathLike[str], *, strict: bool = False
) -> Iterator[DeadLetter]:
    """The dead letters stored in a JSONL log, in file order, read line by line.

    Blank lines are skipped. A corrupt line is logged at WARNING with its line number
    and skipped, or, with ``strict``, raises `ValueError` naming ``path:line``.
    """
    path = Path(path)
    with open(path, "rb") as file:
        for line_no, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                yield DeadLetter.model_validate_json(line)
            except ValidationError as error:
                detail = describe_validation_error(error)
                reason = f"{path}:{line_no} is not a dead letter: {detail}"
                if strict:
                    raise ValueError(reason) from None
                _log.warning("%s (skipped)", reason)
