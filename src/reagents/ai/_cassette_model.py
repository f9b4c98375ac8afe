"""`CassetteModel`: the pydantic-ai model wrapper that records and replays a cassette.

Kept apart from `reagents.ai.cassette` because it subclasses a pydantic-ai class, so
importing it imports pydantic-ai (which ``import reagents.ai`` must not).
"""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from reagents.ai.cassette import Cassette, CassetteMissError, fingerprint

__all__ = ["CassetteModel"]


class CassetteModel(WrapperModel):
    """A model that answers from a cassette, calling the wrapped model only to record."""

    def __init__(self, wrapped: Model | str, cassette: Cassette) -> None:
        super().__init__(wrapped)
        self.cassette = cassette

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """The recorded response (replay, auto), else the model's, recorded (record, auto)."""
        key = fingerprint(self.model_name, messages, model_request_parameters)
        cassette = self.cassette
        if cassette.mode != "record":
            recorded = cassette.replayed(key)
            if recorded is not None:
                return recorded
            if cassette.mode == "replay":
                raise CassetteMissError(key, str(cassette.path))
        response = await super().request(messages, model_settings, model_request_parameters)
        cassette.record(key, response)
        return response
