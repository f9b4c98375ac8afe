"""Apply each command once: an agent remembers the idempotency keys it answered.

Saga and workflow commands carry ``payload["idempotency_key"]`` (``"<run>:<step>"``,
and ``"<run>:<step>:compensate"`` for a compensation). A coordinator that crashed, or
timed out, sends the same command again with the same key; wrapped in `idempotent`,
the agent answers a key it already handled with the answer it gave the first time,
without calling the handler::

    store = SqliteIdempotencyStore("inventory.db")
    pipeline.add_agent(Agent(idempotent(reserve, store), id="inventory"))

`SqliteIdempotencyStore` runs the handler inside a transaction on its connection and
records the key in that same transaction, so a handler that keeps its state through
``store.connection`` (and does not commit itself) applies the command and remembers
the key atomically: a crash leaves either both or neither. `MemoryIdempotencyStore`
remembers the most recent ``max_keys`` keys, for agents whose state is in memory too.

A compensation also marks its command's key as compensated (if that command never
arrived), so a command delayed past its saga's timeout and delivered after its
compensation is rejected instead of applied.

Stores are context managers (``with SqliteIdempotencyStore("inventory.db") as store:``);
`close` may be called more than once. A SQLite store closes only a connection it
opened from a path: a `sqlite3.Connection` passed in stays its owner's to close.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reagents.closing import Closing
from reagents.errors import ConfigurationError
from reagents.events import AgentEvent, AgentResponse
from reagents.sinks.outputs import AsyncHandler, Handler, HandlerOutputs, HandlerResult

__all__ = [
    "COMPENSATE_SUFFIX",
    "KEY_FIELD",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "SqliteIdempotencyStore",
    "idempotent",
    "reject",
]

KEY_FIELD = "idempotency_key"
COMPENSATE_SUFFIX = ":compensate"

Remembered = list[dict[str, Any]]
"""A handler's outputs in a JSON form that can be answered again."""

_TOMBSTONE: Remembered = [{"rejected": "the command was compensated before it arrived"}]


def reject(event: AgentEvent, reason: str, **details: Any) -> AgentEvent:
    """An answer that refuses ``event`` (nothing applied): ``<type>.rejected``, status failure.

    Saga and workflow coordinators treat any answer whose payload has
    ``status == "failure"`` as a rejection, as well as an ``agent_error``.
    """
    return event.derive(
        f"{event.event_type}.rejected", {"status": "failure", "reason": reason, **details}
    )


class IdempotencyStore(Closing, ABC):
    """Keys an agent applied and the answers it gave."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()

    @abstractmethod
    def get(self, key: str) -> Remembered | None:
        """The remembered answer for ``key``, or None if the key is new."""

    @abstractmethod
    def put(self, key: str, answer: Remembered, *, replace: bool = True) -> None:
        """Remember ``answer`` for ``key`` (keep an existing one when ``replace`` is False)."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Scope in which a handler's effects and its key are recorded together."""
        yield

    def close(self) -> None:
        """Release the store's resources (a second call does nothing)."""


class MemoryIdempotencyStore(IdempotencyStore):
    """The most recent ``max_keys`` keys in memory (least recently used go first)."""

    def __init__(self, max_keys: int = 10_000) -> None:
        if max_keys < 1:
            raise ConfigurationError(f"max_keys must be at least 1, got {max_keys}")
        super().__init__()
        self.max_keys = max_keys
        self._keys: OrderedDict[str, Remembered] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key: str) -> Remembered | None:
        answer = self._keys.get(key)
        if answer is not None:
            self._keys.move_to_end(key)
        return answer

    def put(self, key: str, answer: Remembered, *, replace: bool = True) -> None:
        if not replace and key in self._keys:
            return
        self._keys[key] = answer
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)


class SqliteIdempotencyStore(IdempotencyStore):
    """Keys in a SQLite table; the handler's writes on `connection` commit with the key.

    ``path`` is a file (the store opens and, on `close`, closes its connection) or an
    open `sqlite3.Connection` (used as it is and left open by `close`).
    """

    def __init__(self, path: str | Path | sqlite3.Connection, *, table: str = "applied_keys"):
        super().__init__()
        if not table.isidentifier():
            raise ConfigurationError(f"table must be a plain identifier, not {table!r}")
        if isinstance(path, sqlite3.Connection):
            self.connection, self._owns_connection = path, False
        else:
            self.connection = sqlite3.connect(str(path), isolation_level=None)
            self._owns_connection = True
        self._table = table
        try:
            if self._owns_connection:
                self.connection.execute("PRAGMA journal_mode=WAL")
                self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, answer TEXT NOT NULL)"
            )
        except BaseException:
            self.close()
            raise

    def get(self, key: str) -> Remembered | None:
        row = self.connection.execute(
            f"SELECT answer FROM {self._table} WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else list(json.loads(row[0]))

    def put(self, key: str, answer: Remembered, *, replace: bool = True) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self.connection.execute(
            f"{verb} INTO {self._table} (key, answer) VALUES (?, ?)", (key, json.dumps(answer))
        )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.connection.in_transaction:
            raise RuntimeError("the idempotency store's connection is already in a transaction")
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def close(self) -> None:
        """Close the connection if this store opened it (a second call does nothing)."""
        if self._owns_connection:
            self.connection.close()


def idempotent(
    handler: Handler, store: IdempotencyStore, *, key_field: str = KEY_FIELD
) -> AsyncHandler:
    """Wrap ``handler`` so an event whose ``payload[key_field]`` was seen gets the same answer.

    Events without the key are handled as usual. Keyed events are handled one at a
    time per store (the key check, the handler and the record are one step). A handler
    that raises records nothing, so the re-delivered command is tried afresh. The
    handler may return None, a dict, an `AgentEvent`, an `AgentResponse` or a list of
    those (they are remembered as JSON).
    """

    async def handle(event: AgentEvent) -> HandlerOutputs:
        key = event.payload.get(key_field)
        if not isinstance(key, str):
            result = handler(event)
            return await result if inspect.isawaitable(result) else result
        async with store.lock:
            with store.transaction():
                remembered = store.get(key)
                if remembered is not None:
                    return _replay(remembered, event)
                result = handler(event)
                if inspect.isawaitable(result):
                    result = await result
                store.put(key, _remember(result))
                if key.endswith(COMPENSATE_SUFFIX):
                    store.put(key.removesuffix(COMPENSATE_SUFFIX), _TOMBSTONE, replace=False)
            return result

    handle.__name__ = getattr(handler, "__name__", "idempotent")
    return handle


def _remember(result: HandlerResult) -> Remembered:
    items = result if isinstance(result, list | tuple) else [result]
    remembered: Remembered = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, dict):
            remembered.append({"dict": item})
        elif isinstance(item, AgentResponse):
            remembered.append({"response": item.model_dump(mode="json")})
        elif isinstance(item, AgentEvent):
            remembered.append(
                {
                    "event": {
                        "event_type": item.event_type,
                        "payload": item.payload,
                        "priority": item.priority,
                        "target_agents": list(item.target_agents),
                    }
                }
            )
        else:
            raise TypeError(
                f"an idempotent handler must return None, a dict, an AgentEvent, an "
                f"AgentResponse or a list of those, not {type(item).__name__}"
            )
    return remembered


def _replay(remembered: Remembered, event: AgentEvent) -> list[Any]:
    answers: list[Any] = []
    for item in remembered:
        if "dict" in item:
            answers.append(item["dict"])
        elif "response" in item:
            response = dict(item["response"], original_event_id=event.event_id)
            response.pop("response_id", None)
            answers.append(AgentResponse.model_validate(response))
        elif "event" in item:
            spec = item["event"]
            answers.append(
                event.derive(
                    spec["event_type"],
                    spec["payload"],
                    priority=spec["priority"],
                    target_agents=tuple(spec["target_agents"]),
                )
            )
        else:
            answers.append(reject(event, item["rejected"]))
    return answers
