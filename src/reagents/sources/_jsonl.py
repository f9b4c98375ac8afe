"""The JSONL file plumbing under `FileSource`: lines, their decoding, checkpoints.

A checkpoint file holds the byte offset (and line count) after the contiguous acked
prefix of a log; it is replaced atomically, so a crash leaves the old or the new one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, NamedTuple

from pydantic import ValidationError

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.errors import ReagentsError
from reagents.events import AgentEvent, utc_now

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Decoder",
    "LineReader",
    "check_size",
    "check_start",
    "decode_line",
    "end_of_complete_lines",
    "read_checkpoint",
    "write_checkpoint",
]

_CHUNK = 64 * 1024

Decoder = Callable[[bytes], AgentEvent]

# Dead-letter records are written with "dead_letter_id" as their first key; checking
# the start of a line keeps the common case (an event) free of a full scan.
_DEAD_LETTER_START = b'{"dead_letter_id"'


class CheckpointError(ReagentsError, RuntimeError):
    """A checkpoint does not fit its file: the file was truncated or replaced."""


class Checkpoint(NamedTuple):
    """A resumable position: ``offset`` bytes (``line`` lines) were fully handled."""

    offset: int
    line: int


def decode_line(raw: bytes, origin: str, decode: Decoder) -> AgentEvent | DeadLetter:
    """One line of a log: an event, or a decode dead letter naming ``origin``.

    A line that is a dead letter (any dead-letter log replays) gives its event with
    ``retry_count`` reset, or its raw bytes decoded again.
    """
    if raw.startswith(_DEAD_LETTER_START):
        try:
            letter = DeadLetter.model_validate_json(raw)
        except ValidationError:
            pass  # an event that merely mentions the key: decode it as one
        else:
            if letter.event is not None:
                return letter.event.model_copy(update={"retry_count": 0})
            raw = letter.raw or b""
    try:
        return decode(raw)
    except Exception as error:  # any decoder failure becomes a dead letter
        return DeadLetter.from_error(FailureStage.DECODE, error, raw=raw, origin=origin)


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint stored at ``path``, or None when there is none yet."""
    try:
        data = json.loads(path.read_bytes())
        return Checkpoint(offset=int(data["offset"]), line=int(data["line"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"checkpoint {path} is unreadable: {error}") from None


def write_checkpoint(path: Path, source_path: Path, checkpoint: Checkpoint) -> None:
    """Store ``checkpoint`` of ``source_path`` at ``path``, atomically (write, then rename)."""
    record = {
        "path": str(source_path),
        "offset": checkpoint.offset,
        "line": checkpoint.line,
        "updated_at": utc_now().isoformat(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, path)


class LineReader:
    """Complete lines from a binary file, read in chunks; a partial last line waits."""

    def __init__(self, file: BinaryIO, offset: int, end: int | None = None) -> None:
        self._file = file
        self._end = end  # read no further than this offset (None: the file may grow)
        self._buffer = b""
        self._base = offset  # file offset of _buffer[0]
        self._pos = 0  # start of the next unread line within _buffer
        file.seek(offset)

    @property
    def offset(self) -> int:
        """File offset just after the last line returned."""
        return self._base + self._pos

    @property
    def read_to(self) -> int:
        """File offset up to which bytes were read (including a held partial line)."""
        return self._base + len(self._buffer)

    def lines(self, limit: int, *, final: bool) -> list[tuple[bytes, int]]:
        """Up to ``limit`` lines with the offset after each; at EOF a partial line is
        returned only when ``final`` (the file is not expected to grow)."""
        out: list[tuple[bytes, int]] = []
        buffer, pos, base = self._buffer, self._pos, self._base
        while len(out) < limit:
            end = buffer.find(b"\n", pos)
            if end >= 0:
                out.append((buffer[pos:end], base + end + 1))
                pos = end + 1
                continue
            read_to = base + len(buffer)
            size = _CHUNK if self._end is None else min(_CHUNK, self._end - read_to)
            chunk = self._file.read(size) if size > 0 else b""
            if chunk:
                buffer = buffer[pos:] + chunk
                base += pos
                pos = 0
                continue
            if final and pos < len(buffer):
                out.append((buffer[pos:], base + len(buffer)))
                pos = len(buffer)
            break
        self._buffer, self._pos, self._base = buffer, pos, base
        return out


def end_of_complete_lines(path: Path) -> Checkpoint:
    """Offset after the last newline of ``path`` and the number of lines before it."""
    lines = 0
    offset = 0
    last_newline_end = 0
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            count = chunk.count(b"\n")
            if count:
                lines += count
                last_newline_end = offset + chunk.rindex(b"\n") + 1
            offset += len(chunk)
    return Checkpoint(last_newline_end, lines)


def check_start(path: Path, file: BinaryIO, start: Checkpoint, checkpoint_path: Path) -> None:
    """``start`` must lie within the open ``file``, at a line boundary."""
    offset = start.offset
    size = os.fstat(file.fileno()).st_size
    if size < offset:
        check_size(path, start, checkpoint_path, size)
    if 0 < offset < size:
        file.seek(offset - 1)
        if b"\n" not in file.read(2):  # a newline ends the last line or starts the next
            raise CheckpointError(
                f"{path}: offset {offset} (line {start.line}) is not at a line boundary: "
                f"the file was replaced; delete {checkpoint_path} or use start='beginning'"
            )


def check_size(
    path: Path, position: Checkpoint, checkpoint_path: Path, size: int | None = None
) -> None:
    """The file at ``path`` (``size`` bytes, else its size now) must reach ``position``."""
    size = path.stat().st_size if size is None else size
    if size < position.offset:
        raise CheckpointError(
            f"{path} has {size} bytes but {position.offset} bytes (line "
            f"{position.line}) were already read: the file was truncated or replaced; "
            f"delete {checkpoint_path} or use start='beginning'"
        )
