"""Sinks: where events go (agents, JSONL files, memory, Kafka)."""
