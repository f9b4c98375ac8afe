"""Conversation memory: the model messages of each conversation, kept between events.

An `LLMAgent` with ``memory=`` loads the history of the event's conversation
(`AgentEvent.conversation_id`) before each call, passes it as pydantic-ai's
``message_history``, and saves the run's messages back, trimmed to its bounds. So a
multi-turn exchange spread over many events continues where it left off; with
`SqliteConversations` it continues across processes sharing the file.

Trimming keeps whole turns: a turn starts at a request carrying a user prompt and
holds every tool call and tool return that followed, which pydantic-ai needs kept
together. Messages are stored as pydantic-ai's own JSON (``ModelMessagesTypeAdapter``).
A store is a context manager; `close` releases it and may be called more than once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from reagents.ai.prompts import estimate_tokens
from reagents.closing import Closing

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage

__all__ = ["ConversationMemory", "MemoryConversations", "SqliteConversations", "trim_history"]


class ConversationMemory(Closing, ABC):
    """Where conversations are kept: raw message JSON by conversation id."""

    @abstractmethod
    def read(self, conversation_id: str) -> bytes | None:
        """The stored messages of a conversation (pydantic-ai JSON), None if it is new."""

    @abstractmethod
    def write(self, conversation_id: str, messages: bytes) -> None:
        """Replace a conversation's stored messages (durable when this returns)."""

    def load(self, conversation_id: str) -> list[ModelMessage]:
        """The messages of a conversation so far (empty for a new one)."""
        from pydantic_ai.messages import ModelMessagesTypeAdapter

        stored = self.read(conversation_id)
        return [] if stored is None else ModelMessagesTypeAdapter.validate_json(stored)

    def save(self, conversation_id: str, messages: list[ModelMessage]) -> None:
        """Store a conversation's messages (already trimmed by the caller)."""
        from pydantic_ai.messages import ModelMessagesTypeAdapter

        self.write(conversation_id, ModelMessagesTypeAdapter.dump_json(messages))


class MemoryConversations(ConversationMemory):
    """Conversations in this process only (lost when it ends): for tests and short runs."""

    def __init__(self) -> None:
        self._conversations: dict[str, bytes] = {}

    def read(self, conversation_id: str) -> bytes | None:
        return self._conversations.get(conversation_id)

    def write(self, conversation_id: str, messages: bytes) -> None:
        self._conversations[conversation_id] = messages

    def __len__(self) -> int:
        return len(self._conversations)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY, messages BLOB NOT NULL
);
"""


class SqliteConversations(ConversationMemory):
    """Conversations in a SQLite file (WAL): several processes may share it.

    Each save is its own committed transaction, so another process (or a restarted
    one) reading the conversation next sees it. Holds a connection until `close`.
    """

    def __init__(self, path: str | Path = "conversations.db") -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._closed = False
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except BaseException:
            self._db.close()
            raise

    def read(self, conversation_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT messages FROM conversations WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def write(self, conversation_id: str, messages: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO conversations VALUES (?, ?) "
                "ON CONFLICT(conversation_id) DO UPDATE SET messages = excluded.messages",
                (conversation_id, messages),
            )

    def close(self) -> None:
        """Close the database connection (using the store afterwards raises)."""
        if not self._closed:
            self._closed = True
            self._db.close()


def trim_history(
    messages: list[ModelMessage], max_turns: int, max_tokens: int | None = None
) -> list[ModelMessage]:
    """The last ``max_turns`` whole turns of ``messages``, fewer if over ``max_tokens``.

    A turn starts at a request with a user prompt; cutting only there keeps each tool
    call with its return. The latest turn is always kept, whatever its size; tokens
    are estimated (four characters a token) from the messages' JSON.
    """
    starts = [i for i, message in enumerate(messages) if _opens_turn(message)]
    if not starts:
        return list(messages)
    turns = [messages[a:b] for a, b in zip(starts, [*starts[1:], len(messages)], strict=True)]
    kept = turns[-max_turns:] if max_turns > 0 else turns[-1:]
    if max_tokens is not None:
        sizes = [_tokens(turn) for turn in kept]
        while len(kept) > 1 and sum(sizes) > max_tokens:
            kept, sizes = kept[1:], sizes[1:]
    return [message for turn in kept for message in turn]


def _opens_turn(message: ModelMessage) -> bool:
    return message.kind == "request" and any(
        part.part_kind == "user-prompt" for part in message.parts
    )


def _tokens(turn: list[ModelMessage]) -> int:
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    return estimate_tokens(json.dumps(ModelMessagesTypeAdapter.dump_python(turn, mode="json")))
