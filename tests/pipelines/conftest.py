"""Fixtures shared by the runner tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reagents.pipelines.runner import AgentRunner


@pytest.fixture
async def runners() -> AsyncIterator[list[AgentRunner]]:
    """Runners to stop at the end of the test, whatever happened."""
    started: list[AgentRunner] = []
    yield started
    for runner in started:
        await runner.stop()
