"""Recorded model exchanges (a cassette): replay an LLM pipeline without calling a model.

A `Cassette` is a JSONL file with one line per model request: a fingerprint of the
request and the model's response (pydantic-ai's message JSON). An `LLMAgent` given a
cassette wraps its model in a pydantic-ai `WrapperModel` (``CassetteModel``): in
``"record"`` mode it calls the model and appends each exchange; in ``"replay"`` mode
it answers from the file and never calls the model, so tools and structured output
work exactly as they did; ``"auto"`` replays what it has and records the rest. A
replayed request missing from the file raises `CassetteMissError`, which an
`LLMAgent` dead-letters at once (a retry would miss again).

The fingerprint is a SHA-256 of canonical JSON of what decides the answer: the model
name, the instructions, the tools and output schema, and the messages sent — without
timestamps, run ids and tool call ids, which change from run to run.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from reagents.errors import ConfigurationError, ReagentsError

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage, ModelResponse
    from pydantic_ai.models import ModelRequestParameters
    from pydantic_ai.tools import ToolDefinition

__all__ = ["Cassette", "CassetteMissError", "CassetteMode", "fingerprint"]

CassetteMode = Literal["record", "replay", "auto"]

_PER_RUN_KEYS = frozenset(
    {
        "timestamp",
        "run_id",
        "conversation_id",
        "tool_call_id",
        "provider_response_id",
        "usage",
        "history_digest",
    }
)


class CassetteMissError(ReagentsError):
    """A replayed request is not in the cassette; ``fingerprint`` names it."""

    def __init__(self, fingerprint: str, path: str) -> None:
        self.fingerprint = fingerprint
        super().__init__(f"no recorded response for request {fingerprint} in cassette {path}")


class Cassette:
    """Model exchanges recorded in a JSONL file, by request fingerprint.

    The file is read when the cassette is made (a missing file is an empty cassette,
    except in ``"replay"`` mode, where it is an error); recording appends and flushes
    a line per exchange. Give the same cassette to every agent of a pipeline.
    """

    def __init__(self, path: str | Path, mode: CassetteMode = "auto") -> None:
        if mode not in get_args(CassetteMode):
            raise ConfigurationError(f"cassette mode must be record/replay/auto, not {mode!r}")
        self.path = Path(path)
        self.mode: CassetteMode = mode
        self._lock = threading.Lock()
        self._responses: dict[str, bytes] = {}
        if mode == "replay" and not self.path.exists():
            raise ConfigurationError(f"no cassette to replay at {self.path}")
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._responses[entry["fingerprint"]] = json.dumps(entry["response"]).encode()

    def __len__(self) -> int:
        return len(self._responses)

    def __contains__(self, fingerprint: object) -> bool:
        return fingerprint in self._responses

    def replayed(self, fingerprint: str) -> ModelResponse | None:
        """The recorded response to a request, None when the request is not recorded."""
        from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelResponse

        stored = self._responses.get(fingerprint)
        if stored is None:
            return None
        [response] = ModelMessagesTypeAdapter.validate_json(b"[" + stored + b"]")
        if not isinstance(response, ModelResponse):
            raise ReagentsError(f"cassette {self.path} holds a request under {fingerprint}")
        return response

    def record(self, fingerprint: str, response: ModelResponse) -> None:
        """Append one exchange to the file (a fingerprint already recorded is kept as is)."""
        from pydantic_ai.messages import ModelMessagesTypeAdapter

        encoded = ModelMessagesTypeAdapter.dump_json([response])[1:-1]
        with self._lock:
            if fingerprint in self._responses:
                return
            self._responses[fingerprint] = encoded
            line = b'{"fingerprint":"' + fingerprint.encode() + b'","response":' + encoded + b"}\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as file:
                file.write(line)

    def __repr__(self) -> str:
        return f"<Cassette {str(self.path)!r} mode={self.mode} exchanges={len(self)}>"


def fingerprint(
    model_name: str, messages: Sequence[ModelMessage], parameters: ModelRequestParameters
) -> str:
    """A stable SHA-256 of a request: same request, same fingerprint, in any process."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    request = {
        "model": model_name,
        "instructions": [part.content for part in parameters.instruction_parts or ()],
        "tools": [_tool(tool) for tool in parameters.function_tools],
        "output_tools": [_tool(tool) for tool in parameters.output_tools],
        "output_mode": parameters.output_mode,
        "allow_text_output": parameters.allow_text_output,
        "messages": _stable(ModelMessagesTypeAdapter.dump_python(list(messages), mode="json")),
    }
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _tool(tool: ToolDefinition) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters_json_schema,
    }


def _stable(value: Any) -> Any:
    """``value`` without the keys that change from run to run."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _PER_RUN_KEYS}
    if isinstance(value, list):
        return [_stable(item) for item in value]
    return value
