"""Suite-wide guards: no test may call a real model provider (pydantic-ai's own guard)."""

from __future__ import annotations

import pydantic_ai.models

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False
