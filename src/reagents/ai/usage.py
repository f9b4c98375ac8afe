"""`ModelUsage`: what an LLM agent's model calls have cost so far — requests, tokens, USD.

Counted from pydantic-ai's run usage after each successful call; the cost needs a
price table (``prices={"openai:gpt-4o": (2.5, 10.0)}``: USD per million input and
output tokens), since reagents does not guess what a provider charges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ModelUsage", "Prices", "UsageCounter"]

Prices = Mapping[str, tuple[float, float]]
"""Model name → (USD per 1M input tokens, USD per 1M output tokens)."""


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """A snapshot of one agent's model usage (``cost_usd`` is None without a price)."""

    calls: int = 0
    failures: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class UsageCounter:
    """Live usage counters of one agent; `snapshot` freezes them."""

    __slots__ = ("_price", "calls", "failures", "input_tokens", "output_tokens", "requests")

    def __init__(self, model_name: str, prices: Prices | None) -> None:
        self._price = price_of(model_name, prices or {})
        self.calls = self.failures = self.requests = 0
        self.input_tokens = self.output_tokens = 0

    def succeeded(self, requests: int, input_tokens: int, output_tokens: int) -> None:
        """Count one model call that returned an output."""
        self.calls += 1
        self.requests += requests
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def failed(self) -> None:
        """Count one model call that raised."""
        self.calls += 1
        self.failures += 1

    def snapshot(self) -> ModelUsage:
        """The counters now, with the cost when the model has a price."""
        cost = None
        if self._price is not None:
            per_input, per_output = self._price
            cost = (self.input_tokens * per_input + self.output_tokens * per_output) / 1e6
        return ModelUsage(
            calls=self.calls,
            failures=self.failures,
            requests=self.requests,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=cost,
        )


def price_of(model_name: str, prices: Prices) -> tuple[float, float] | None:
    """The price of ``model_name``: by its full name, else without the provider prefix."""
    if model_name in prices:
        return prices[model_name]
    return prices.get(model_name.partition(":")[2] or model_name)
