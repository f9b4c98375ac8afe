"""Pipelines: wiring sources, agents and sinks, and running them on asyncio."""
