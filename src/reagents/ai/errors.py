"""Model call failures that mean something: transient ones retry, permanent ones do not.

pydantic-ai and the providers raise many error classes; an `LLMAgent` turns each
into one of two reagents errors so the runner knows what to do with it:

- `TransientModelError`: a 429, a 408 or 5xx response, a timeout, a lost connection.
  Retried with the agent's backoff; after a 429 with Retry-After the agent's next call
  waits at least that long, and the model is paused in its budget for every caller.
- `PermanentModelError`: a rejected request (401/403 auth, 400 such as an exceeded
  context window, 404 model), exhausted credits (a 429 that says quota, not rate), a
  usage limit, a model that kept answering wrongly after its own output retries, a
  request missing from a replayed cassette.
  Dead-lettered at once: retrying cannot help.

Each message names the model, the original error class and the size of the request,
so a dead letter says which call failed and how big it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from reagents.errors import ReagentsError

__all__ = [
    "ModelCallError",
    "PermanentModelError",
    "TransientModelError",
    "classify",
    "retry_after",
]

_TRANSIENT_STATUS = frozenset({408, 409, 425, 429})


class ModelCallError(ReagentsError):
    """A call to a model failed; ``model``, ``cause`` and ``request_size`` say which."""

    def __init__(self, model: str, cause: BaseException, request_size: str) -> None:
        self.model = model
        self.cause_class = type(cause).__name__
        self.request_size = request_size
        super().__init__(
            f"model {model!r} failed with {self.cause_class} ({request_size}): {cause}"
        )


class TransientModelError(ModelCallError):
    """A failure that may pass (rate limit, overload, timeout): retried with backoff."""

    def __init__(
        self,
        model: str,
        cause: BaseException,
        request_size: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(model, cause, request_size)
        self.retry_after = retry_after


class PermanentModelError(ModelCallError):
    """A failure a retry cannot fix (auth, bad request, limits): dead-lettered at once."""


def classify(error: Exception, model: str, request_size: str) -> ModelCallError | None:
    """``error`` as a transient or permanent model error, or None when it is not one.

    None means the error did not come from the model call itself (a bug in a tool,
    say): it is raised as it is and retried like any handler failure.
    """
    from pydantic_ai import exceptions as ex

    from reagents.ai.cassette import CassetteMissError

    if isinstance(error, CassetteMissError):
        return PermanentModelError(model, error, request_size)  # replaying again misses again
    if isinstance(error, ex.ModelQuotaExceededError | ex.ModelRequestRejectedError):
        return PermanentModelError(model, error, request_size)  # credits, auth, bad request
    if isinstance(error, ex.ModelHTTPError):
        status = error.status_code
        if status in _TRANSIENT_STATUS or status >= 500:
            return TransientModelError(model, error, request_size, retry_after(error))
        return PermanentModelError(model, error, request_size)
    if isinstance(error, ex.ModelAPIError | TimeoutError | ConnectionError):
        return TransientModelError(model, error, request_size, retry_after(error))
    if isinstance(error, ex.UsageLimitExceeded | ex.UnexpectedModelBehavior | ex.UserError):
        return PermanentModelError(model, error, request_size)
    return None


def retry_after(error: Exception) -> float | None:
    """Seconds the provider asked to wait: as pydantic-ai read it, else Retry-After.

    pydantic-ai reads ``retry-after-ms``, ``Retry-After`` seconds and Google's retry
    info; an HTTP-date ``Retry-After`` is read here.
    """
    known = getattr(error, "retry_after", None)
    if isinstance(known, int | float):
        return max(float(known), 0.0)
    headers = getattr(error, "headers", None) or {}
    value = headers.get("retry-after") if isinstance(headers, dict) else None
    if not isinstance(value, str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0)
